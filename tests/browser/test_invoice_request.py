"""An invoice on a phone: a wrong credit code refused, then asked, issued, downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect
from sqlalchemy import select

from backend.db import Database
from backend.invoices.lifecycle import InvoiceStatus
from backend.invoices.models import InvoiceRequest
from backend.orders.lifecycle import OrderStatus
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from tests.browser.live import phone_context_options
from tests.browser.parcels import sms_link
from tests.factories import make_order
from tests.portal.helpers import ADMIN

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
# Looked at by people at both phone widths; docs/screenshots/invoice-*.png are copies of them.
SCREENSHOTS = "invoice-{name}-{width}.png"


def requests_of(database: Database, order_id: int) -> list[InvoiceRequest]:
    with database.read() as session:
        return list(
            session.scalars(select(InvoiceRequest).where(InvoiceRequest.order_id == order_id))
        )


def snap_both_widths(page: Page, name: str, directory: Path) -> None:
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        page.screenshot(
            path=str(directory / SCREENSHOTS.format(name=name, width=width)), full_page=True
        )
    page.set_viewport_size({"width": 390, "height": 844})


def finance_issues(browser: Browser, playwright: Playwright, base_url: str, tmp_path: Path) -> None:
    context = browser.new_context(base_url=base_url, **phone_context_options(playwright))
    staff = context.new_page()
    staff.goto("/admin/login")
    staff.fill("#name", "finance-browser")
    staff.fill("#password", "issue-invoices-2026")
    with staff.expect_navigation():
        staff.click("button[type=submit]")
    staff.goto("/admin/invoices")
    # Named like a PDF, but it is not one: the first bytes decide.
    fake = tmp_path / "fapiao.pdf"
    fake.write_bytes(b"<html>not a pdf</html>")
    staff.set_input_files("input[name=pdf]", str(fake))
    staff.get_by_role("button", name="开票").click()
    expect(staff.get_by_role("alert")).to_contain_text("不是 PDF")
    real = tmp_path / "scan.bin"
    real.write_bytes(PDF)
    staff.set_input_files("input[name=pdf]", str(real))
    staff.get_by_role("button", name="开票").click()
    expect(staff.get_by_text("没有待处理的发票")).to_be_visible()
    context.close()


def test_a_company_invoice_is_refused_for_a_wrong_code_then_asked_issued_and_downloaded(
    page: Page,
    browser: Browser,
    playwright: Playwright,
    live_server: str,
    database: Database,
    tmp_path: Path,
) -> None:
    add_staff(database, "finance-browser", Role.FINANCE, "issue-invoices-2026", ADMIN)
    order = make_order(database, status=OrderStatus.PAID, phone="13800138000")
    page.goto(sms_link(database, order.id))
    page.get_by_role("link", name="发票").click()

    page.get_by_role("radio", name="单位").check()
    page.get_by_label("发票抬头").fill("华为技术有限公司")
    page.get_by_label("统一社会信用代码（单位必填）").fill("914403001922038217")
    page.get_by_label("接收邮箱（单位必填）").fill("fp@example.com")
    page.get_by_role("button", name="申请开票").click()
    expect(page.get_by_role("alert")).to_contain_text("统一社会信用代码有误")
    snap_both_widths(page, "refused", tmp_path)
    assert requests_of(database, order.id) == []

    page.get_by_label("统一社会信用代码（单位必填）").fill("914403001922038216")
    page.get_by_role("button", name="申请开票").click()
    expect(page.get_by_role("heading", name="待开票")).to_be_visible()
    expect(page.get_by_text("9144**********8216")).to_be_visible()
    snap_both_widths(page, "requested", tmp_path)
    [stored] = requests_of(database, order.id)
    assert stored.status == InvoiceStatus.REQUESTED and stored.tax_number == "914403001922038216"

    finance_issues(browser, playwright, live_server, tmp_path)
    assert requests_of(database, order.id)[0].status == InvoiceStatus.ISSUED

    page.reload()
    expect(page.get_by_role("heading", name="已开票")).to_be_visible()
    snap_both_widths(page, "issued", tmp_path)
    with page.expect_download() as download:
        page.get_by_role("link", name="下载发票（PDF）").click()
    assert Path(download.value.path()).read_bytes() == PDF
