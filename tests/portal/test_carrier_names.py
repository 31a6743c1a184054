"""Carrier names in the page's language: 申通快递 in Chinese, STO Express in English."""

import pytest

from backend.logistics.carriers.names import CARRIER_NAMES, carrier_name
from backend.orders.lifecycle import OrderStatus
from backend.staff.models import Role
from tests.factories import SYSTEM, create_label, create_shipment, make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login


@pytest.fixture
def sto_order(database):
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "shentong", "773012345678", SYSTEM)
    return order


def test_the_tracking_page_names_the_carrier_in_chinese(client, database, sto_order):
    open_short_link(client, database, sto_order.id)
    html = client.get(f"/orders/{sto_order.public_no}").text
    assert "申通快递" in html and "STO Express" not in html


def test_the_tracking_page_names_the_carrier_in_english(client, database, sto_order):
    open_short_link(client, database, sto_order.id)
    html = client.get(f"/language?to=en&next=/orders/{sto_order.public_no}").text
    assert "STO Express" in html and "申通" not in html


def test_the_staff_order_page_names_the_carrier_in_english(client, database, sto_order):
    staff_login(client, database, Role.SUPPORT)
    html = client.get(f"/language?to=en&next=/admin/orders/{sto_order.id}").text
    # The SMS sent to the customer was Chinese and is shown as sent; the shipment is not.
    assert "STO Express 773012345678" in html and "申通快递 773012345678" not in html


def test_every_carrier_has_a_name_in_both_languages():
    for code in CARRIER_NAMES:
        chinese, english = carrier_name(code, "zh_CN"), carrier_name(code, "en")
        assert chinese and english and english.isascii(), code
        assert not chinese.isascii() or chinese == english == "EMS", code


def test_an_unknown_carrier_code_is_shown_as_it_is():
    assert carrier_name("acme-freight", "en") == "acme-freight"


def test_the_pack_scan_names_the_carrier_in_english(client, database):
    order = make_order(database, status=OrderStatus.PICKING)
    create_label(database, order.id, "shentong", "773012345678", SYSTEM)  # printed before packing
    staff_login(client, database, Role.WAREHOUSE)
    client.get("/language?to=en&next=/warehouse/scan")
    token = csrf_token(client, "/warehouse/scan")
    scanned = client.post(
        "/warehouse/scan",
        data={"code": "773012345678"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert "STO Express 773012345678" in scanned.text and "申通" not in scanned.text
