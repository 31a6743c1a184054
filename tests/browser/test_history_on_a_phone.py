"""The order's one timeline on a phone: made through the real pages, reloaded, paged back."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.staff.models import Role
from backend.support.models import SupportRequest
from backend.support.service import answer_request
from tests.browser.parcels import hours_ago, record_events, route_to_hangzhou, sms_link
from tests.factories import make_order, send_queued_sms

SUPPORT = Actor(ActorKind.STAFF, "客服小李", role=Role.SUPPORT)

pytestmark = pytest.mark.browser

# Looked at by people at both widths; docs/screenshots/timeline-*.png are copies of them
# (PORTAL_SCREENSHOT_DIR=docs/screenshots writes them there directly).
SCREENSHOTS = "timeline-{width}.png"


def snap_both_widths(page: Page, directory: Path) -> None:
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        path = directory / SCREENSHOTS.format(width=width)
        page.screenshot(path=str(path), full_page=True)
        if target := os.environ.get("PORTAL_SCREENSHOT_DIR"):
            shutil.copy(path, Path(target) / path.name)
    page.set_viewport_size({"width": 390, "height": 844})


def a_long_trip() -> list[CarrierEvent]:
    """Hangzhou to the customer's door through many sorting centres: more than a page."""
    middle = [
        CarrierEvent(
            hours_ago(14 - n * 0.5),
            TrackingStatus.IN_TRANSIT,
            f"【中转】快件已到达【第{n + 1}转运中心】",
            "30",
            f"第{n + 1}转运中心",
        )
        for n in range(18)
    ]
    delivered = CarrierEvent(
        hours_ago(1), TrackingStatus.DELIVERED, "【杭州市西湖区】已签收，签收人：本人", "3"
    )
    return [*route_to_hangzhou(), *middle, delivered]


def test_the_customer_reads_everything_newest_first_and_pages_back_to_the_order_placed(
    page: Page, live_server: str, database: Database, tmp_path: Path
) -> None:
    order = make_order(database, status=OrderStatus.DELIVERED)
    days_back(database, order.id)
    record_events(database, order.id, a_long_trip())
    page.goto(sms_link(database, order.id))

    page.get_by_label("给客服留言").fill("包裹外箱有点破，里面没事。")
    page.get_by_role("button", name="联系客服").click()
    expect(page.locator(".support-body", has_text="包裹外箱有点破")).to_be_visible()
    page.get_by_role("button", name="确认收货").click()
    expect(page.get_by_text("感谢确认，订单已完成。")).to_be_visible()

    page.get_by_role("link", name="查看订单全部动态").click()
    expect(page.get_by_role("heading", name="订单动态")).to_be_visible()
    page.reload()
    entries = page.locator(".history-entries > li")
    expect(entries).to_have_count(20)
    expect(entries.first.locator(".event-status")).to_have_text("订单已完成")
    expect(entries.nth(1).locator(".event-status")).to_have_text("您联系了客服")
    expect(page.get_by_text("13800138000")).to_have_count(0)
    expect(page.get_by_text("已下单")).to_have_count(0)

    page.get_by_role("link", name="更早的记录").click()
    expect(page.get_by_text("已下单", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="更早的记录")).to_have_count(0)
    texts = entries.locator(".event-status").all_inner_texts()
    assert texts[0] == "订单已完成" and texts[-1] == "已下单"
    lines = entries.locator(".event-text").all_inner_texts()
    stations = [text for text in lines if text.startswith("【中转】")]
    assert len(stations) == len(set(stations)) == 18
    # htmx appended the page: the address bar still shows the newest page.
    assert "before=" not in page.url

    page.reload()
    expect(entries).to_have_count(20)
    expect(page.get_by_text("已下单")).to_have_count(0)


def test_one_page_tells_the_whole_story_of_an_order_masked(
    page: Page, live_server: str, database: Database, tmp_path: Path
) -> None:
    """Carrier events, the SMS we sent, an invoice, a message and its answer, 确认收货."""
    order = make_order(database, status=OrderStatus.DELIVERED)
    days_back(database, order.id)
    record_events(database, order.id, [*route_to_hangzhou(), out_for_delivery_earlier()])
    send_queued_sms(database)
    page.goto(sms_link(database, order.id))

    page.get_by_role("link", name="发票").click()
    page.get_by_label("发票抬头").fill("张三")
    page.get_by_role("button", name="申请开票").click()
    expect(page.get_by_role("heading", name="待开票")).to_be_visible()
    page.goto(f"/orders/{order.public_no}")
    page.get_by_label("给客服留言").fill("能开电子发票吗？")
    page.get_by_role("button", name="联系客服").click()
    expect(page.locator(".support-body", has_text="能开电子发票吗？")).to_be_visible()
    [request_id] = request_ids(database, order.id)
    answer_request(database, request_id, SUPPORT, "可以的，已为您申请，开好后可在订单页下载。")
    page.get_by_role("button", name="确认收货").click()
    expect(page.get_by_text("感谢确认，订单已完成。")).to_be_visible()

    page.get_by_role("link", name="查看订单全部动态").click()
    titles = page.locator(".history-entries .event-status").all_inner_texts()
    assert titles[:4] == ["订单已完成", "客服已回复", "您联系了客服", "您申请了开票"]
    assert "已给您发送短信通知" in titles and titles[-1] == "已下单"
    expect(page.get_by_text("发货通知")).to_be_visible()
    expect(page.get_by_text("138****8000").first).to_be_visible()
    expect(page.get_by_text("13800138000")).to_have_count(0)
    expect(page.get_by_text(SUPPORT.identifier)).to_have_count(0)
    expect(page.get_by_role("link", name="更早的记录")).to_have_count(0)
    snap_both_widths(page, tmp_path)


def days_back(database: Database, order_id: int) -> None:
    """The factory walks the lifecycle in a moment; a real order took days to get here."""
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(
                placed_at=hours_ago(48),
                paid_at=hours_ago(47.9),
                packed_at=hours_ago(24),
                shipped_at=hours_ago(21),
            )
        )


def out_for_delivery_earlier() -> CarrierEvent:
    return CarrierEvent(
        hours_ago(2),
        TrackingStatus.DELIVERED,
        "【杭州市西湖区】已签收，签收人：本人，感谢使用",
        "3",
        "杭州市",
    )


def request_ids(database: Database, order_id: int) -> list[int]:
    with database.read() as session:
        return list(
            session.scalars(select(SupportRequest.id).where(SupportRequest.order_id == order_id))
        )
