"""The rules page and the operations figures in Chromium, at desk and phone size.

A supervisor lowers the refund limit and sees the new version and its history; the
figures page draws its charts. Both fit 320 px without a sideways scroll. The pictures
are looked at; PORTAL_SCREENSHOT_DIR=docs/screenshots writes the README's copies.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from backend.db import Database
from backend.demo import seed_operations, seed_orders
from backend.orders.intake import IntakeRules
from backend.staff.models import Role
from tests.browser.test_reveal_and_customer_page import look
from tests.browser.test_staff_order_actions import log_in

pytestmark = pytest.mark.browser


def test_a_supervisor_tunes_a_rule_and_reads_the_figures(
    page: Page, live_server: str, database: Database, tmp_path: Path
) -> None:
    seed_orders(database, rules=IntakeRules())
    seed_operations(database, IntakeRules())
    log_in(page, database, Role.SUPERVISOR, "周主管")
    page.goto("/admin/rules")
    limit = page.get_by_label("规则自动同意退款的金额上限")
    expect(limit).to_have_value("200")
    limit.fill("一百")
    page.get_by_role("button", name="保存为新版本").click()
    expect(page.get_by_text("未保存：请修改下面标出的项。")).to_be_visible()
    page.get_by_label("规则自动同意退款的金额上限").fill("100")
    page.get_by_label("改了什么、为什么（记入历史）").fill("大促前收紧自动退款")
    page.get_by_role("button", name="保存为新版本").click()
    expect(page.get_by_text("已保存为第 2 版")).to_be_visible()
    history = page.locator("#rule_versions")
    expect(history.get_by_text("大促前收紧自动退款")).to_be_visible()
    expect(history.get_by_text("200 → 100")).to_be_visible()
    look(page, "rules", tmp_path)

    page.goto("/admin/operations")
    expect(page.locator("svg").first).to_be_visible()
    look(page, "operations", tmp_path)
