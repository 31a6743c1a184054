"""Support reveals a phone with a reason, sees it in the audit and in who looked at it.

In Chromium, as the support role; the reveal is for that one answer (a new visit masks it
again). Screenshots of the order page and the customer page at desk and phone size are
looked at; PORTAL_SCREENSHOT_DIR=docs/screenshots writes the README's copies directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.db import Database
from backend.disclosure import REVEALED
from backend.orders.lifecycle import OrderStatus
from backend.staff.models import Role
from tests.browser.test_staff_order_actions import log_in
from tests.factories import make_order

pytestmark = pytest.mark.browser

WIDTHS = (("desk", 1280), ("390", 390), ("320", 320))


def look(page: Page, name: str, directory: Path) -> None:
    target = Path(os.environ.get("PORTAL_SCREENSHOT_DIR") or directory)
    for label, width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(target / f"{name}-{label}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
    page.set_viewport_size({"width": 390, "height": 844})


def test_support_reveals_a_phone_with_a_reason_and_the_customer_page_shows_who_looked(
    page: Page, live_server: str, database: Database, tmp_path: Path
) -> None:
    make_order(database, status=OrderStatus.DELIVERED)
    order = make_order(database, status=OrderStatus.SHIPPED)
    log_in(page, database, Role.SUPPORT, "客服小王")
    page.goto(f"/admin/orders/{order.id}")
    facts = page.locator("dl.facts")
    expect(facts.get_by_text("138****8000")).to_be_visible()
    expect(page.get_by_text("13800138000")).to_have_count(0)
    expect(page.get_by_text("文三路100号")).to_have_count(0)

    page.get_by_text("查看完整手机号和地址").click()
    page.get_by_label("查看原因").fill("ab")  # too short: the browser and the server refuse
    page.get_by_role("button", name="查看", exact=True).click()
    expect(page.get_by_text("13800138000")).to_have_count(0)
    page.get_by_label("查看原因").fill("客户来电核对地址")
    page.get_by_role("button", name="查看", exact=True).click()
    expect(facts.get_by_text("13800138000")).to_be_visible()
    expect(page.get_by_text("文三路100号").first).to_be_visible()
    expect(page.get_by_text("仅本页显示；查看原因已记入操作记录。")).to_be_visible()
    expect(page.locator("#audit, table").get_by_text("客户来电核对地址").first).to_be_visible()
    with database.read() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == REVEALED)).all()
        assert [(e.actor_id, e.order_id, e.after["reason"]) for e in events] == [
            ("客服小王", order.id, "客户来电核对地址")
        ]

    page.goto(f"/admin/orders/{order.id}")  # a new visit: masked again, nothing kept
    expect(page.get_by_text("13800138000")).to_have_count(0)

    notes = page.locator("#notes")
    notes.get_by_label("内部备注").fill("客户来电投诉快递员态度差")
    notes.get_by_label("投诉（解决前保持未结）").check()
    notes.get_by_role("button", name="保存备注").click()
    expect(page.get_by_text("投诉已记录")).to_be_visible()
    page.goto(f"/admin/orders/{order.id}")  # from the top, without the #notes anchor
    expect(page.locator("#notes").get_by_text("客户来电投诉快递员态度差")).to_be_visible()
    look(page, "staff-order", tmp_path)

    page.locator("dl.facts").get_by_role("link", name="张三").click()
    expect(page.locator("h1")).to_contain_text("张三")
    expect(page.locator('[data-figure="orders"]')).to_have_text("2")
    expect(page.locator('[data-figure="open"]')).to_have_text("1")
    looked = page.locator("#customer_looks")
    expect(looked.get_by_text("客服小王")).to_be_visible()
    expect(looked.get_by_text("客户来电核对地址")).to_be_visible()
    expect(page.get_by_text("13800138000")).to_have_count(0)
    look(page, "customer-360", tmp_path)

    page.get_by_role("button", name="标记为已解决").click()
    expect(page.get_by_text("投诉已解决。")).to_be_visible()
    expect(page.locator('[data-figure="open"]')).to_have_text("0")
