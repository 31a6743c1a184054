"""Actions on the staff order page, in Chromium as the right role, seen on the customer's page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.db import Database
from backend.demo import seed_operations, seed_orders
from backend.logistics.models import Shipment
from backend.orders.intake import IntakeRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import HoldReason, Order
from backend.refunds.models import Refund
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from tests.browser.parcels import sms_link
from tests.factories import make_order
from tests.portal.helpers import ADMIN

pytestmark = pytest.mark.browser

PASSWORD = "staff-console-2026"


def log_in(page: Page, database: Database, role: Role, name: str) -> None:
    add_staff(database, name, role, PASSWORD, ADMIN)
    page.context.clear_cookies()
    page.goto("/admin/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def fits(page: Page, name: str, directory: Path) -> None:
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        page.screenshot(path=str(directory / f"{name}-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.set_viewport_size({"width": 390, "height": 844})


def test_support_cancels_a_paid_order_and_the_customer_sees_it_cancelled(
    page: Page, live_server: str, database: Database, tmp_path: Path
) -> None:
    order = make_order(database, status=OrderStatus.PAID)
    link = sms_link(database, order.id)
    log_in(page, database, Role.SUPPORT, "客服小王")
    page.goto(f"/admin/orders/{order.id}")
    card = page.locator("#cancel")
    expect(card.get_by_text("已付款、未打包")).to_be_visible()
    fits(page, "staff-cancel", tmp_path)
    card.locator("select[name=reason]").select_option("wrong_item")
    card.locator("input[name=note]").fill("客户来电说拍重了")
    card.get_by_role("button", name="取消订单并退款").click()
    expect(page.get_by_text("已取消。已付款项正在原路退回。")).to_be_visible()
    with database.read() as session:
        assert session.get(Order, order.id).status == OrderStatus.CANCELLED
        assert list(session.scalars(select(Refund.amount_fen).where(Refund.order_id == order.id)))
    page.goto(link)
    page.reload()
    expect(page.get_by_text("退款 ¥256.00 正在原路退回。")).to_be_visible()
    expect(page.get_by_role("link", name="取消订单")).to_have_count(0)


def test_the_warehouse_records_a_waybill_and_the_customer_sees_it(
    page: Page, live_server: str, database: Database, tmp_path: Path
) -> None:
    order = make_order(database, status=OrderStatus.PAID)
    link = sms_link(database, order.id)
    log_in(page, database, Role.WAREHOUSE, "仓库小张")
    page.goto(f"/admin/orders/{order.id}")
    form = page.locator("form.waybill-form")
    form.locator("select[name=carrier]").select_option("shunfeng")
    form.locator("input[name=waybill]").fill("SF1234567890123")
    form.locator("button[type=submit]").click()
    expect(page.get_by_text("运单已登记")).to_be_visible()
    fits(page, "staff-waybill", tmp_path)
    with database.read() as session:
        numbers = session.scalars(select(Shipment.tracking_no).where(Shipment.order_id == order.id))
        assert list(numbers) == ["SF1234567890123"]
    page.goto(link)
    expect(page.get_by_text("SF1234567890123")).to_be_visible()


def test_two_different_people_release_a_high_value_hold(
    page: Page, live_server: str, database: Database
) -> None:
    seed_orders(database, rules=IntakeRules())
    seed_operations(database, IntakeRules())  # the held orders, a high-value one among them
    with database.read() as session:
        held = session.scalars(
            select(Order.id).where(Order.hold_reason == HoldReason.HIGH_VALUE).order_by(Order.id)
        ).first()
    assert held is not None
    log_in(page, database, Role.FINANCE, "财务小陈")
    page.goto(f"/admin/orders/{held}")
    page.get_by_role("button", name="审核通过并放行").click()
    expect(page.get_by_text("您的审核已记录。此高价值订单还需第二人审核。")).to_be_visible()
    with database.read() as session:
        assert session.get(Order, held).hold_reason == HoldReason.HIGH_VALUE
    # The same person again is not the second approver.
    page.get_by_role("button", name="审核通过并放行").click()
    expect(page.get_by_text("您已审核过此订单，第二次审核必须由另一人完成。")).to_be_visible()
    with database.read() as session:
        assert session.get(Order, held).hold_reason == HoldReason.HIGH_VALUE
    log_in(page, database, Role.SUPERVISOR, "主管老周")
    page.goto(f"/admin/orders/{held}")
    page.get_by_role("button", name="审核通过并放行").click()
    expect(page.get_by_text("审核通过：订单已放行，可以打包发货。")).to_be_visible()
    with database.read() as session:
        assert session.get(Order, held).hold_reason is None
