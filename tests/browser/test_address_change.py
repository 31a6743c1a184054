"""The address change on a phone: paste, one-time code, countdown; then the pack scan locks it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.db import Database
from backend.jobs.models import Job
from backend.logistics.warehouse import scan_parcel
from backend.orders.address_changes import SEND_CODE
from backend.orders.lifecycle import OrderStatus
from tests.browser.parcels import sms_link
from tests.factories import SYSTEM, make_order

pytestmark = pytest.mark.browser


def texted_code(database: Database) -> str:
    """The code as the SMS job carries it (the worker would text it to the order's phone)."""
    with database.read() as session:
        job = session.scalars(
            select(Job).where(Job.kind == SEND_CODE).order_by(Job.id.desc())
        ).first()
    assert job is not None, "no code was queued for texting"
    return str(job.payload["code"])


def test_a_customer_pastes_a_new_address_confirms_the_code_and_the_pack_scan_locks_it(
    page: Page, database: Database
) -> None:
    order = make_order(database, status=OrderStatus.PAID, phone="13800138000", name="张三")
    page.goto(sms_link(database, order.id))
    address = page.locator("#address")
    expect(address.locator(".countdown")).to_have_text(re.compile(r"还可修改 1小时5\d分"))
    address.get_by_role("link", name="修改地址").click()

    page.get_by_label("粘贴完整地址，自动识别").fill("李四 13912345678 上海市浦东新区张杨路500号")
    page.get_by_role("button", name="识别并填入").click()
    expect(page.get_by_label("收货人")).to_have_value("李四")
    expect(page.get_by_label("手机号")).to_have_value("13912345678")
    expect(page.get_by_label("区县")).to_have_value("浦东新区")
    expect(page.get_by_label("详细地址")).to_have_value("张杨路500号")
    page.get_by_role("button", name="获取验证码").click()

    expect(page.locator("#address_code")).to_contain_text("验证码已发送至 138****8000")
    page.get_by_label("验证码").fill(texted_code(database))
    page.get_by_role("button", name="确认").click()

    expect(page).to_have_url(re.compile(rf"/orders/{order.public_no}\?notice=address_changed"))
    expect(page.locator(".flash")).to_have_text("地址已修改，已短信通知原手机号。")
    expect(address).to_contain_text("李*")
    expect(address).to_contain_text("139****5678")
    expect(address).to_contain_text("上海市 浦东新区 ****")
    expect(address.locator(".countdown")).to_have_text(re.compile(r"还可修改 \d+小时\d+分"))

    scan_parcel(database, order.public_no, SYSTEM)
    page.reload()
    expect(address.get_by_role("link", name="修改地址")).to_have_count(0)
    expect(address.locator(".locked")).to_have_text(
        re.compile(r"已于 \d\d-\d\d \d\d:\d\d 在仓库打包，地址已锁定")
    )
    expect(address.get_by_role("link", name="申请拦截改派")).to_be_visible()


def test_a_change_that_loses_the_race_to_the_pack_scan_leaves_one_message_and_one_way_back(
    page: Page, database: Database
) -> None:
    order = make_order(database, status=OrderStatus.PAID, phone="13800138000")
    page.goto(sms_link(database, order.id))
    page.locator("#address").get_by_role("link", name="修改地址").click()
    expect(page.locator(".countdown")).to_have_text(re.compile(r"还可修改 1小时5\d分"))
    page.get_by_label("粘贴完整地址，自动识别").fill("李四 13912345678 上海市浦东新区张杨路500号")
    page.get_by_role("button", name="识别并填入").click()
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator("#address_code")).to_contain_text("138****8000")
    page.get_by_label("验证码").fill(texted_code(database))

    scan_parcel(database, order.public_no, SYSTEM)  # the warehouse is quicker
    page.get_by_role("button", name="确认").click()

    expect(page.locator(".locked")).to_have_text(
        re.compile(r"已于 \d\d-\d\d \d\d:\d\d 在仓库打包，地址已锁定")
    )
    expect(page.locator(".countdown")).to_have_count(0)
    expect(page.get_by_role("link", name="返回订单")).to_have_count(1)
    expect(page.get_by_role("link", name="申请拦截改派")).to_have_count(1)
    expect(page.locator("main .card")).to_have_count(1)
