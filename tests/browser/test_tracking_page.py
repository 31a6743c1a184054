"""The tracking page on a phone: opened from an SMS, updated live, and private to its customer."""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import BrowserContext, Page, Response, expect

from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from backend.orders.service import NewLine
from portal.sessions import CUSTOMER_COOKIE
from portal.settings import Settings
from tests.browser.parcels import (
    out_for_delivery,
    record_events,
    route_to_hangzhou,
    signed_link,
    sms_link,
    waybill_of,
)
from tests.factories import make_order

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")


def customer_cookies(context: BrowserContext) -> list[str]:
    return [cookie["name"] for cookie in context.cookies() if cookie["name"] == CUSTOMER_COOKIE]


def is_poll(response: Response) -> bool:
    return "/timeline?marker=" in response.url


def test_an_sms_link_opens_the_order_timeline_in_chinese_with_personal_data_masked(
    page: Page, context: BrowserContext, database: Database
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED)
    events = route_to_hangzhou()
    record_events(database, order.id, events)
    link = sms_link(database, order.id)

    response = page.goto(link)

    assert response is not None and response.status == 200
    assert urlsplit(page.url).path == f"/orders/{order.public_no}"
    assert customer_cookies(context) == [CUSTOMER_COOKIE]
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    timeline = page.locator("#timeline")
    expect(timeline.locator(".headline")).to_have_text("运输中")
    expect(timeline.locator(".progress li[aria-current=step]")).to_have_text("运输中")
    expect(timeline.locator(".waybill")).to_contain_text("演示快递")
    expect(timeline.locator(".waybill-no")).to_have_text(waybill_of(database, order.id))
    newest_first = list(reversed(events))
    items = timeline.locator("ol.timeline > li")
    expect(items.locator(".event-text")).to_have_text([e.description for e in newest_first])
    expect(items.locator(".event-status")).to_have_text(["运输中", "已揽收", "已下单待揽收"])
    expect(items.locator(".event-meta")).to_have_text(
        [f"{e.occurred_at.astimezone(SHANGHAI):%m-%d %H:%M} · 杭州市" for e in newest_first]
    )
    expect(items.first).to_have_class("latest")
    address = page.locator("section[aria-labelledby=address-heading]")
    expect(address.locator("strong")).to_have_text("张*")
    expect(address).to_contain_text("138****8000")
    expect(address).to_contain_text("浙江省 杭州市 西湖区 ****")
    html = page.content()
    for private in ("13800138000", "文三路100号", "张三", link.removeprefix("/t/")):
        assert private not in html


def test_a_new_carrier_event_appears_on_the_open_page_without_a_reload(
    page: Page, database: Database
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED)
    record_events(database, order.id, route_to_hangzhou())
    page.goto(sms_link(database, order.id))
    items = page.locator("#timeline ol.timeline > li")
    expect(items).to_have_count(3)
    page.evaluate("window.openedOnce = 'still the same page'")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    # While nothing changes, the page keeps asking and is told so (204, nothing swapped).
    # The marker also turns with the clock's minute, so one poll may fall on that turn.
    quiet: list[int] = []
    while len(quiet) < 3 and 204 not in quiet:
        with page.expect_response(is_poll) as poll:
            pass
        quiet.append(poll.value.status)
    assert 204 in quiet

    event = out_for_delivery()
    with page.expect_response(lambda r: is_poll(r) and r.status == 200) as changed_poll:
        record_events(database, order.id, [event])

    assert changed_poll.value.request.headers.get("hx-request") == "true"
    expect(items).to_have_count(4)
    expect(items.first.locator(".event-text")).to_have_text(event.description)
    expect(items.first.locator(".event-status")).to_have_text("派送中")
    expect(items.first).to_have_class("latest")
    expect(items.nth(1)).not_to_have_class("latest")
    expect(page.locator("#timeline .headline")).to_have_text("派送中")
    expect(page.locator("#timeline .progress li[aria-current=step]")).to_have_text("派送中")
    # Only the partial came back: one timeline, one header, not a page inside the page.
    expect(page.locator("#timeline")).to_have_count(1)
    expect(page.locator("header.bar")).to_have_count(1)
    assert page.evaluate("window.openedOnce") == "still the same page"
    assert navigations == []
    assert urlsplit(page.url).path == f"/orders/{order.public_no}"


def test_a_signed_wechat_link_opens_the_order_too(
    page: Page, database: Database, settings: Settings
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED)
    record_events(database, order.id, route_to_hangzhou())

    response = page.goto(signed_link(settings, database, order.id))

    assert response is not None and response.status == 200
    expect(page).to_have_url(re.compile(rf"/orders/{order.public_no}$"))
    expect(page.locator("#timeline .headline")).to_have_text("运输中")


def test_a_signed_in_customer_cannot_open_someone_elses_order(
    page: Page, database: Database
) -> None:
    mine = make_order(database, status=OrderStatus.SHIPPED)
    theirs = make_order(
        database,
        name="李四",
        phone="13900139000",
        status=OrderStatus.SHIPPED,
        lines=[NewLine("CUP-CER-01", "景德镇手绘陶瓷茶杯 两只装", 1, 8_900)],
    )
    record_events(database, theirs.id, route_to_hangzhou())
    their_waybill = waybill_of(database, theirs.id)
    page.goto(sms_link(database, mine.id))
    expect(page).to_have_url(re.compile(rf"/orders/{mine.public_no}$"))

    response = page.goto(f"/orders/{theirs.public_no}")

    assert response is not None and response.status == 404
    expect(page.locator("main h1")).to_have_text("没有找到该页面或订单。")
    html = page.content()
    for private in ("李", "139****9000", "景德镇", "¥89.00", their_waybill, "杭州转运中心"):
        assert private not in html
    assert theirs.public_no not in page.locator("body").inner_text()
    timeline = page.request.get(f"/orders/{theirs.public_no}/timeline")
    assert timeline.status == 404
    assert their_waybill not in timeline.text()
    page.goto("/orders")
    rows = page.locator("a.order-row")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(mine.public_no)
