"""取消订单 on a phone: a paid order cancelled and refunded, a shipped one pointed elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.refunds.models import OrderCancellation, Refund
from tests.browser.parcels import sms_link
from tests.factories import make_order

pytestmark = pytest.mark.browser


def snap_both_widths(page: Page, name: str, directory: Path) -> None:
    # PORTAL_SCREENSHOT_DIR=docs/screenshots writes the README's copies directly.
    target = Path(os.environ.get("PORTAL_SCREENSHOT_DIR") or directory)
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        page.screenshot(path=str(target / f"{name}-{width}.png"), full_page=True)
        # Nothing wider than the phone: no sideways scrolling at either width.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.set_viewport_size({"width": 390, "height": 844})


def stored(database: Database, order_id: int):
    with database.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        cancels = session.scalars(
            select(OrderCancellation).where(OrderCancellation.order_id == order_id)
        ).all()
        refunds = session.scalars(select(Refund.amount_fen).where(Refund.order_id == order_id))
        return order.status, len(cancels), list(refunds)


def test_a_paid_order_is_cancelled_and_the_refund_is_on_its_way(
    page: Page, live_server: str, database: Database, tmp_path: Path
) -> None:
    order = make_order(database, status=OrderStatus.PAID)
    page.goto(sms_link(database, order.id))
    expect(page.get_by_text("不想要了？")).to_be_visible()
    page.get_by_role("link", name="取消订单").click()
    expect(page.get_by_text("已付的 ¥256.00 将原路退回")).to_be_visible()
    snap_both_widths(page, "cancel", tmp_path)
    page.get_by_label("发货太慢").check()
    page.get_by_role("button", name="取消订单").click()
    expect(page.get_by_text("订单已取消。")).to_be_visible()
    assert stored(database, order.id) == (OrderStatus.CANCELLED, 1, [25_600])

    page.reload()
    expect(page.get_by_text("退款 ¥256.00 正在原路退回。")).to_be_visible()
    expect(page.get_by_role("link", name="取消订单")).to_have_count(0)
    snap_both_widths(page, "cancel-done", tmp_path)
    # Back to the confirmation page and a second tap: still one cancel, one refund.
    page.go_back()
    page.goto(f"/orders/{order.public_no}/cancel")
    expect(page.get_by_text("这笔订单已经取消了。")).to_be_visible()
    assert stored(database, order.id) == (OrderStatus.CANCELLED, 1, [25_600])


def test_a_shipped_order_is_not_cancelled_but_sent_to_stop_the_parcel(
    page: Page, live_server: str, database: Database, tmp_path: Path
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED)
    page.goto(sms_link(database, order.id))
    expect(page.get_by_text("包裹已交给快递，不能直接取消了")).to_be_visible()
    expect(page.get_by_role("link", name="取消订单")).to_have_count(0)
    # A stale tab that still had the cancel form: its POST lands on the intercept page.
    stale = page.request.post(
        f"/orders/{order.public_no}/cancel",
        form={
            "csrf_token": page.locator("input[name=csrf_token]").first.input_value(),
            "reason": "other",
        },
        max_redirects=0,
    )
    assert stale.status == 303
    assert stale.headers["location"] == f"/orders/{order.public_no}/refund-in-transit"
    page.get_by_role("link", name="申请拦截退款").click()
    expect(page).to_have_url(f"{live_server}/orders/{order.public_no}/refund-in-transit")
    page.reload()
    assert stored(database, order.id) == (OrderStatus.SHIPPED, 0, [])
