"""催发货, 联系客服 and 确认收货 on a phone, with support answering from the staff order page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect
from sqlalchemy import select, update

from backend.clock import utcnow
from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from backend.support.lifecycle import RequestKind, RequestStatus
from backend.support.models import SupportRequest
from tests.browser.live import phone_context_options
from tests.browser.parcels import sms_link
from tests.factories import make_order
from tests.portal.helpers import ADMIN

pytestmark = pytest.mark.browser

# Looked at by people at both phone widths; docs/screenshots/support-*.png are copies of them.
SCREENSHOTS = "support-{name}-{width}.png"


def snap_both_widths(page: Page, name: str, directory: Path) -> None:
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        page.screenshot(
            path=str(directory / SCREENSHOTS.format(name=name, width=width)), full_page=True
        )
    page.set_viewport_size({"width": 390, "height": 844})


def requests_of(database: Database, order_id: int) -> list[SupportRequest]:
    with database.read() as session:
        return list(
            session.scalars(
                select(SupportRequest)
                .where(SupportRequest.order_id == order_id)
                .order_by(SupportRequest.id)
            )
        )


def status_of(database: Database, order_id: int) -> OrderStatus:
    with database.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order.status


def support_answers(browser: Browser, playwright: Playwright, base_url: str, order_id: int) -> None:
    context = browser.new_context(base_url=base_url, **phone_context_options(playwright))
    staff = context.new_page()
    staff.goto("/admin/login")
    staff.fill("#name", "support-browser")
    staff.fill("#password", "answer-customers-2026")
    with staff.expect_navigation():
        staff.click("button[type=submit]")
    staff.goto(f"/admin/orders/{order_id}")
    expect(staff.get_by_text("今天能发货吗")).to_be_visible()
    message = staff.locator("[data-kind=message]")
    message.get_by_label("回复").fill("今天下午发出，请留意短信。")
    message.get_by_role("button", name="发送回复").click()
    expect(staff.get_by_text("今天下午发出，请留意短信。")).to_be_visible()
    context.close()


def test_a_late_order_is_reminded_once_a_message_is_answered_by_support(
    page: Page,
    browser: Browser,
    playwright: Playwright,
    live_server: str,
    database: Database,
    tmp_path: Path,
) -> None:
    add_staff(database, "support-browser", Role.SUPPORT, "answer-customers-2026", ADMIN)
    order = make_order(database, status=OrderStatus.PAID)
    with database.write() as session:
        # Paid two days ago: the 24-hour shipping promise has passed, so 催发货 is open.
        session.execute(
            update(Order).where(Order.id == order.id).values(paid_at=utcnow() - timedelta(days=2))
        )
    page.goto(sms_link(database, order.id))
    expect(page.get_by_text("承诺")).to_be_visible()

    page.get_by_role("button", name="催发货").click()
    expect(page.get_by_text("今天已催发货，明天可以再催。")).to_be_visible()
    [reminder] = requests_of(database, order.id)
    assert reminder.kind == RequestKind.REMINDER and reminder.status == RequestStatus.OPEN

    # A second reminder the same day: the button is gone after a reload, and the database
    # holds one reminder even if the page is stale and posts again.
    page.reload()
    expect(page.get_by_role("button", name="催发货")).to_have_count(0)
    stale = page.request.post(
        f"/orders/{order.public_no}/remind",
        form={"csrf_token": page.locator("input[name=csrf_token]").first.input_value()},
        max_redirects=0,
    )
    assert stale.status == 429 and "今天已经催过发货了" in stale.text()
    assert len(requests_of(database, order.id)) == 1

    page.get_by_label("给客服留言").fill("今天能发货吗？")
    page.get_by_role("button", name="联系客服").click()
    expect(page.locator(".support-body", has_text="今天能发货吗？")).to_be_visible()
    snap_both_widths(page, "asked", tmp_path)
    assert [r.kind for r in requests_of(database, order.id)] == [
        RequestKind.REMINDER,
        RequestKind.MESSAGE,
    ]

    support_answers(browser, playwright, live_server, order.id)
    assert requests_of(database, order.id)[1].status == RequestStatus.ANSWERED

    page.reload()
    expect(page.get_by_text("今天下午发出，请留意短信。")).to_be_visible()
    snap_both_widths(page, "answered", tmp_path)


def test_receipt_is_confirmed_on_a_delivered_order_and_refused_before(
    page: Page, live_server: str, database: Database, tmp_path: Path
) -> None:
    waiting = make_order(database, status=OrderStatus.SHIPPED, phone="13900139000")
    page.goto(sms_link(database, waiting.id))
    expect(page.get_by_role("button", name="确认收货")).to_have_count(0)
    refused = page.request.post(
        f"/orders/{waiting.public_no}/receipt",
        form={"csrf_token": page.locator("input[name=csrf_token]").first.input_value()},
        max_redirects=0,
    )
    assert refused.status == 409
    assert status_of(database, waiting.id) == OrderStatus.SHIPPED

    delivered = make_order(database, status=OrderStatus.DELIVERED)
    page.goto(sms_link(database, delivered.id))
    expect(page.get_by_text("收到包裹了吗？")).to_be_visible()
    snap_both_widths(page, "receipt", tmp_path)
    page.get_by_role("button", name="确认收货").click()
    expect(page.get_by_text("感谢确认，订单已完成。")).to_be_visible()
    assert status_of(database, delivered.id) == OrderStatus.COMPLETED
    expect(page.get_by_role("button", name="确认收货")).to_have_count(0)
