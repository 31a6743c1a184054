"""A packer on a phone: scan, book the waybill, open the label, void it, in Chromium."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import select

from backend.logistics.models import Shipment
from backend.orders.lifecycle import OrderStatus
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from emulators.kuaidi100 import Kuaidi100Emulator
from emulators.serving import serve_in_thread
from tests.factories import make_order
from tests.portal.helpers import ADMIN

pytestmark = pytest.mark.browser

PASSWORD = "pack-on-a-phone-2026"


@pytest.fixture
def k100():
    emulator = Kuaidi100Emulator()
    with serve_in_thread(emulator.app) as url:
        emulator.url = url  # type: ignore[attr-defined]
        yield emulator


@pytest.fixture
def settings(settings, k100):
    return replace(
        settings,
        kuaidi100_key=k100.key,
        kuaidi100_secret=k100.secret,
        kuaidi100_api_url=k100.url,
        kuaidi100_waybill_accounts=json.dumps({"zhongtong": {"partnerId": "P", "tempId": "T"}}),
        waybill_providers="zhongtong=kuaidi100",
        waybill_default_carrier="zhongtong",
        sender_name="杭州仓",
        sender_phone="057188880000",
        sender_province="浙江省",
        sender_city="杭州市",
        sender_district="余杭区",
        sender_street="仓前街道1号",
    )


def test_a_packer_books_a_label_opens_it_and_voids_it_on_a_phone(page, database, k100):
    order = make_order(database, status=OrderStatus.PAID)
    add_staff(database, "packer", Role.WAREHOUSE, PASSWORD, ADMIN)
    page.goto("/admin/login")
    page.fill("#name", "packer")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto("/warehouse/scan")
    assert page.viewport_size["width"] == 390
    page.fill("#code", order.public_no)
    page.press("#code", "Enter")
    book = page.locator("#pack_form button[type=submit]")
    book.wait_for()
    assert book.bounding_box()["height"] >= 44
    book.click()
    page.get_by_text("已下单").wait_for()
    with database.read() as session:
        number = session.scalars(select(Shipment.tracking_no)).one()
    assert page.get_by_text(number).first.is_visible()
    href = page.get_by_role("link", name="打开面单（PDF）").get_attribute("href")
    label = page.request.get(href)
    assert label.status == 200 and label.body().startswith(b"%PDF")
    assert [b.param["orderId"] for b in k100.bookings] == [f"{order.public_no}-1"]
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="作废面单").click()
    page.get_by_text("面单已在快递公司作废").wait_for()
    assert [c.accepted for c in k100.cancels] == [True]
    assert page.locator("#pack_form input[name=parcel_no]").get_attribute("value") == "2"
