"""The lookup form on a phone: order number plus the phone's last four digits, rate limited."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from backend.db import Database
from backend.orders.access import LOOKUP_FAILURES_PER_ORDER
from backend.orders.lifecycle import OrderStatus
from portal.sessions import CUSTOMER_COOKIE
from tests.browser.parcels import record_events, route_to_hangzhou
from tests.factories import make_order

pytestmark = pytest.mark.browser

NOT_FOUND = "未找到与该订单号和手机号匹配的订单，请核对后重试。"
LIMITED = "尝试次数过多，请15分钟后再试。"


def submit_lookup(page: Page, order_no: str, phone_last4: str) -> int:
    """Fill the form and tap 查询; the status of the answer, once htmx has swapped it in."""
    form = page.locator("#lookup_form")
    form.get_by_label("订单号", exact=True).fill(order_no)
    form.get_by_label("手机号后4位", exact=True).fill(phone_last4)
    # Marks the form as it is now, to tell the swapped-in answer from it.
    form.evaluate("form => form.setAttribute('data-answered', 'no')")
    with page.expect_response(
        lambda r: r.request.method == "POST" and urlsplit(r.url).path == "/lookup"
    ) as answer:
        form.get_by_role("button", name="查询").click()
    return answer.value.status


def error_after_swap(page: Page) -> str:
    fresh = page.locator("#lookup_form:not([data-answered])")
    expect(fresh).to_have_count(1)
    return fresh.get_by_role("alert").inner_text()


def is_signed_in(context: BrowserContext) -> bool:
    return CUSTOMER_COOKIE in [cookie["name"] for cookie in context.cookies()]


def test_wrong_phone_digits_lock_the_order_number_even_against_the_right_phone(
    page: Page, context: BrowserContext, database: Database
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED, phone="13800138000")
    page.goto("/lookup")

    answers = []
    for _ in range(LOOKUP_FAILURES_PER_ORDER + 1):
        status = submit_lookup(page, order.public_no, "0000")
        answers.append((status, error_after_swap(page)))
    status = submit_lookup(page, order.public_no, "8000")
    answers.append((status, error_after_swap(page)))

    assert answers == [(422, NOT_FOUND)] * LOOKUP_FAILURES_PER_ORDER + [(429, LIMITED)] * 2
    assert urlsplit(page.url).path == "/lookup"
    assert not is_signed_in(context)
    # The lock is on that order number, not on the customer's phone or network.
    other = make_order(database, status=OrderStatus.SHIPPED, phone="13800138000")
    submit_lookup(page, other.public_no, "8000")
    expect(page).to_have_url(re.compile(rf"/orders/{other.public_no}$"))


def test_the_right_order_number_and_phone_digits_open_the_tracking_page(
    page: Page, context: BrowserContext, database: Database
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED, phone="13912345678")
    record_events(database, order.id, route_to_hangzhou())
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/lookup$"))
    expect(page.locator("main h1")).to_have_text("查询订单")

    status = submit_lookup(page, f" {order.public_no} ", "5678")

    assert status == 200
    expect(page).to_have_url(re.compile(rf"/orders/{order.public_no}$"))
    expect(page.locator("#timeline .headline")).to_have_text("运输中")
    expect(page.locator("section[aria-labelledby=address-heading]")).to_contain_text("139****5678")
    assert is_signed_in(context)
