"""The admin disables a support member in Chromium; the member's open session is refused at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from backend.staff.accounts import add_staff
from backend.staff.models import Role
from tests.browser.test_accessibility import blocking_violations
from tests.portal.helpers import ADMIN

pytestmark = pytest.mark.browser

PASSWORD = "staff-admin-browser-2026"


def log_in(page: Page, name: str) -> None:
    page.goto("/admin/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_admin_disables_support_and_the_open_session_is_refused(
    page, browser: Browser, live_server, database
):
    add_staff(database, "boss", Role.ADMIN, PASSWORD, ADMIN)
    add_staff(database, "小王", Role.SUPPORT, PASSWORD, ADMIN)
    support_context = browser.new_context(base_url=live_server)
    try:
        support = support_context.new_page()
        log_in(support, "小王")
        assert support.url.endswith("/admin/orders")

        log_in(page, "boss")
        page.goto("/admin/staff")
        member = page.locator("article", has=page.locator(".staff-name", has_text="小王"))
        with page.expect_navigation():
            member.get_by_role("button", name="停用").click()
        assert "账号已停用" in page.locator("[role=status]").inner_text()
        member = page.locator("article", has=page.locator(".staff-name", has_text="小王"))
        assert member.get_by_role("button", name="启用").is_visible()

        # The support member's next click: the login page, not the orders.
        support.reload()
        assert support.url.endswith("/admin/login")
        log_in(support, "小王")
        assert support.url.endswith("/admin/login")  # nor can they log in again
    finally:
        support_context.close()


@pytest.mark.parametrize("width", [390, 320])
def test_the_staff_page_fits_a_phone(page, database, width, tmp_path: Path):
    add_staff(database, "boss", Role.ADMIN, PASSWORD, ADMIN)
    add_staff(database, "仓库-老李", Role.WAREHOUSE, PASSWORD, ADMIN)
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, "boss")
    page.goto("/admin/staff")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(tmp_path / f"staff-{width}.png"), full_page=True)
    print(tmp_path / f"staff-{width}.png")
    assert scroll <= width
    assert blocking_violations(page) == []
