"""Staff upload files with plain HTML forms: JavaScript off, the hidden CSRF token is enough."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect
from sqlalchemy import select

from backend.orders.models import Order, ReconciliationReport
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from tests.browser.live import phone_context_options
from tests.factories import SYSTEM, make_order

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
ORDERS_CSV = (
    "订单号,收货人,手机,省,市,区,详细地址,商品编码,商品名称,数量,单价(元)\n"
    "NOJS-1,张三,13800138000,浙江省,杭州市,西湖区,文三路100号,TEA-1,龙井,2,128.00\n"
)


@pytest.fixture
def staff_page(
    browser: Browser, playwright: Playwright, live_server: str, database
) -> Iterator[Page]:
    """A staff member signed in through the login form, in a browser with JavaScript off."""
    add_staff(database, "小王", Role.ADMIN, PASSWORD, SYSTEM)
    context = browser.new_context(
        base_url=live_server, java_script_enabled=False, **phone_context_options(playwright)
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/admin/login")
    page.get_by_label("用户名").fill("小王")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).not_to_have_url(f"{live_server}/admin/login")
    yield page
    context.close()


def test_staff_import_orders_without_javascript(staff_page: Page, database, tmp_path):
    upload = tmp_path / "orders.csv"
    upload.write_text(ORDERS_CSV, encoding="utf-8")
    staff_page.goto("/admin/import")
    staff_page.locator('input[name="file"]').set_input_files(upload)
    with staff_page.expect_response(lambda r: r.request.method == "POST") as answer:
        staff_page.get_by_role("button", name="导入").click()
    assert answer.value.status == 200
    expect(staff_page.get_by_text("1 个订单已创建")).to_be_visible()
    with database.read() as session:
        assert session.scalars(select(Order.channel_order_no)).all() == ["NOJS-1"]


def test_staff_upload_a_channel_export_without_javascript(staff_page: Page, database, tmp_path):
    order = make_order(database)
    export = tmp_path / "taobao.csv"
    export.write_text(f"订单号,状态,实付金额\n{order.channel_order_no},交易成功,256.00\n")
    staff_page.goto("/admin/reconciliation")
    staff_page.locator("#channel").select_option("taobao")
    staff_page.locator("#export").set_input_files(export)
    with staff_page.expect_response(lambda r: r.request.method == "POST") as answer:
        staff_page.get_by_role("button", name="对账").click()
    assert answer.value.status == 303
    expect(staff_page.get_by_text(re.compile(r"^1 行，\d+ 处差异$"))).to_be_visible()
    with database.read() as session:
        report = session.scalars(select(ReconciliationReport)).one()
    assert report.channel == "taobao" and report.rows_in_export == 1
