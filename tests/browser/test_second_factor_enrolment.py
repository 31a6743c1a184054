"""An admin without a second factor, in Chromium: sent to enrolment, scans, gets recovery codes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page

from backend.staff.accounts import add_staff
from backend.staff.models import Role
from tests.browser.test_accessibility import blocking_violations
from tests.portal.helpers import ADMIN

pytestmark = pytest.mark.browser

PASSWORD = "enrol-in-the-browser-2026"


@pytest.fixture
def settings(settings):
    return replace(settings, staff_second_factor_required=True)


def _password(page: Page) -> None:
    page.goto("/admin/login")
    page.fill("#name", "boss")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


@pytest.mark.parametrize("width", [390, 320])
def test_an_admin_enrols_then_logs_in_with_a_code(page, database, width, tmp_path: Path):
    add_staff(database, "boss", Role.ADMIN, PASSWORD, ADMIN)
    page.set_viewport_size({"width": width, "height": 800})
    _password(page)
    page.goto("/admin/staff")
    assert page.url.endswith("/admin/second-factor")
    assert page.locator(".qr svg").is_visible()
    page.screenshot(path=str(tmp_path / f"enrol-{width}.png"), full_page=True)
    print(tmp_path / f"enrol-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert blocking_violations(page) == []
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    page.fill("#code", totp.now())
    with page.expect_navigation():
        page.click("main form.form button[type=submit]")  # not the header's logout
    assert page.locator(".recovery-codes li").count() == 10
    assert blocking_violations(page) == []
    page.goto("/admin/staff")
    assert page.url.endswith("/admin/staff")

    page.context.clear_cookies()
    _password(page)
    assert page.url.endswith("/admin/login/code")
    page.fill("#code", "000000")
    with page.expect_navigation():
        page.click("main form.form button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    assert blocking_violations(page) == []
