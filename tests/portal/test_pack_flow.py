"""The pack flow on the scan page against the Kuaidi100 e-waybill emulator over loopback:
scan, the lines, confirm, the booked label, split parcels, stops, reprint and void."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.fulfilment import packing
from backend.jobs.worker import Worker
from backend.logistics.models import ParcelLabel, Shipment, ShipmentLine
from backend.orders.channels import CanonicalAddress, CanonicalLine, CanonicalOrder
from backend.orders.intake import IntakeRules, ingest_channel_order
from backend.orders.inventory import save_sku
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, OrderLine, SalesChannel
from backend.orders.service import NewLine
from backend.orders.warehouses import WarehouseFields, save_warehouse, set_stock
from backend.staff.models import Role
from emulators.kuaidi100 import Kuaidi100Emulator, Subscription
from emulators.serving import serve_in_thread
from emulators.sf import SfGatewayEmulator
from portal.app import create_app
from portal.background import build_handlers
from portal.integrations import build_integrations, packing_config
from tests.conftest import KUAIDI100_SALT
from tests.factories import SYSTEM, make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login
from tests.staff_world import changed_tables, snapshot

ACCOUNTS = {"zhongtong": {"partnerId": "TESTPARTNER", "tempId": "T-ZTO"}}
HTMX = {"HX-Request": "true"}


@pytest.fixture
def k100():
    emulator = Kuaidi100Emulator()
    with serve_in_thread(emulator.app) as url:
        emulator.url = url  # type: ignore[attr-defined]
        yield emulator


@pytest.fixture
def pack_settings(settings, k100):
    return replace(
        settings,
        kuaidi100_key=k100.key,
        kuaidi100_secret=k100.secret,
        kuaidi100_api_url=k100.url,
        kuaidi100_poll_url=k100.url,
        kuaidi100_waybill_accounts=json.dumps(ACCOUNTS),
        waybill_providers="zhongtong=kuaidi100",
        waybill_default_carrier="zhongtong",
        sender_name="杭州仓",
        sender_phone="057188880000",
        sender_province="浙江省",
        sender_city="杭州市",
        sender_district="余杭区",
        sender_street="仓前街道1号",
    )


@pytest.fixture
def packer(pack_settings, database):
    with TestClient(create_app(pack_settings, database)) as client:
        staff_login(client, database, Role.WAREHOUSE)
        client.headers["X-CSRF-Token"] = csrf_token(client, "/warehouse/scan")
        yield client


def scan(client, code):
    return client.post("/warehouse/scan", data={"code": code}, headers=HTMX)


def pack_fields(html: str) -> dict[str, str]:
    """The confirm form as the page offers it: parcel number, carrier and every quantity."""
    form = re.search(r'<form id="pack_form".*?</form>', html, re.S)
    assert form, "no pack form on the page"
    fields = dict(re.findall(r'name="(parcel_no|qty_\d+)" value="(\d+)"', form.group(0)))
    fields["carrier"] = re.search(r'<option value="(\w+)" selected', form.group(0)).group(1)
    return fields


def confirm(client, order_id, fields):
    return client.post(f"/warehouse/orders/{order_id}/parcels", data=fields, headers=HTMX)


def reload_order(database, order_id):
    with database.read() as session:
        order = session.get(Order, order_id)
        shipments = session.scalars(
            select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)
        ).all()
        lines = {
            s.id: dict(
                session.execute(
                    select(ShipmentLine.order_line_id, ShipmentLine.quantity).where(
                        ShipmentLine.shipment_id == s.id
                    )
                ).all()
            )
            for s in shipments
        }
        return order, shipments, lines


def actions(database, action):
    with database.read() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def picked_up(client, k100, number):
    """The carrier collects the parcel and Kuaidi100 pushes it to the portal's webhook."""
    k100.advance(number)
    waybill = k100.waybills[number]
    waybill.subscription = Subscription("http://testserver/webhooks/kuaidi100", KUAIDI100_SALT, 4)
    _url, param, sign = k100.build_push(waybill)
    answer = client.post("/webhooks/kuaidi100", data={"param": param, "sign": sign})
    assert answer.status_code == 200


def run_worker(database, settings):
    integrations = build_integrations(settings)
    try:
        Worker(database, build_handlers(settings, integrations)).run_until_idle()
    finally:
        integrations.close()


def test_scan_lines_confirm_books_the_waybill_and_the_label_pdf_downloads(packer, database, k100):
    order = make_order(database, status=OrderStatus.PAID, name="赵六")
    page = scan(packer, order.public_no)
    assert page.status_code == 200 and "第 1 个包裹" in page.text
    fields = pack_fields(page.text)
    assert fields["parcel_no"] == "1" and fields["carrier"] == "zhongtong"
    booked = confirm(packer, order.id, fields)
    assert booked.status_code == 200 and booked.text.lstrip().startswith('<div id="pack_panel"')
    (booking,) = k100.bookings
    assert booking.accepted and booking.param["orderId"] == f"{order.public_no}-1"
    assert booking.param["sendMan"]["name"] == "杭州仓"
    assert booking.param["recMan"]["name"] == "赵六"
    stored, (shipment,), lines = reload_order(database, order.id)
    assert stored.status == OrderStatus.PACKED and stored.address_locked_at is not None
    assert shipment.source == "booked" and shipment.shipped_at is None
    assert shipment.tracking_no in booked.text and "打开面单" in booked.text
    with database.read() as session:
        ordered = dict(
            session.execute(
                select(OrderLine.id, OrderLine.quantity).where(OrderLine.order_id == order.id)
            ).all()
        )
    assert lines[shipment.id] == ordered
    pdf = packer.get(f"/warehouse/shipments/{shipment.id}/label.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert "no-store" in pdf.headers["cache-control"]
    assert "无可打包" in scan(packer, order.public_no).text


def test_a_label_pdf_is_for_warehouse_staff_only(packer, pack_settings, database, k100):
    order = make_order(database, status=OrderStatus.PAID)
    confirm(packer, order.id, pack_fields(scan(packer, order.public_no).text))
    _order, (shipment,), _lines = reload_order(database, order.id)
    with TestClient(create_app(pack_settings, database)) as other:
        path = f"/warehouse/shipments/{shipment.id}/label.pdf"
        assert other.get(path, follow_redirects=False).status_code == 303
        staff_login(other, database, Role.FINANCE)
        assert other.get(path).status_code == 403


def test_a_split_parcel_gives_two_waybills_and_the_first_pickup_ships_part(
    packer, pack_settings, database, k100
):
    order = make_order(
        database,
        status=OrderStatus.PAID,
        lines=[NewLine("TEA-1", "西湖龙井 250g", 2, 12_800), NewLine("CUP-1", "茶杯", 1, 3_000)],
    )
    fields = pack_fields(scan(packer, order.public_no).text)
    tea, cup = sorted(name for name in fields if name.startswith("qty_"))
    first = confirm(packer, order.id, {**fields, tea: "1", cup: "0"})
    assert first.status_code == 200
    second_fields = pack_fields(scan(packer, order.public_no).text)
    assert second_fields == {**fields, "parcel_no": "2", tea: "1"}
    assert confirm(packer, order.id, second_fields).status_code == 200
    _order, shipments, lines = reload_order(database, order.id)
    assert len({s.tracking_no for s in shipments}) == 2
    assert [lines[s.id] for s in shipments] == [
        {int(tea[4:]): 1},
        {int(tea[4:]): 1, int(cup[4:]): 1},
    ]
    assert [b.param["orderId"] for b in k100.bookings] == [
        f"{order.public_no}-1",
        f"{order.public_no}-2",
    ]
    picked_up(packer, k100, shipments[0].tracking_no)
    run_worker(database, pack_settings)
    stored, shipments, _lines = reload_order(database, order.id)
    assert stored.status == OrderStatus.PARTIALLY_SHIPPED
    assert shipments[0].shipped_at is not None and shipments[1].shipped_at is None


def test_a_double_tap_books_once_and_records_one_parcel(packer, database, k100):
    order = make_order(database, status=OrderStatus.PAID)
    fields = pack_fields(scan(packer, order.public_no).text)
    first, again = confirm(packer, order.id, fields), confirm(packer, order.id, fields)
    assert first.status_code == again.status_code == 200
    _order, shipments, _lines = reload_order(database, order.id)
    assert len(shipments) == 1 and len(k100.bookings) == 1
    assert shipments[0].tracking_no in again.text


def test_two_confirms_at_the_same_moment_make_one_parcel_with_one_number(
    pack_settings, database, k100
):
    order = make_order(database, status=OrderStatus.PAID)
    integrations = build_integrations(pack_settings)
    config = packing_config(pack_settings)
    actor = Actor(ActorKind.STAFF, "packer", role=Role.WAREHOUSE)
    results, errors = [], []

    def tap():
        try:
            results.append(
                packing.book_parcel(database, integrations.waybills, config, order.id, 1, actor)
            )
        except Exception as error:  # the assertion below shows it
            errors.append(error)

    try:
        threads = [threading.Thread(target=tap) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        integrations.close()
    assert errors == []
    assert len({r.tracking_no for r in results}) == 1
    assert sorted(r.created for r in results) == [False, True]
    _order, shipments, _lines = reload_order(database, order.id)
    assert len(shipments) == 1
    with database.read() as session:
        assert len(session.scalars(select(ParcelLabel)).all()) == 1


def _held_order(database) -> int:
    save_sku(database, "TEA-1", "西湖龙井 250g", 50, 16_080, SYSTEM)
    order = CanonicalOrder(
        channel=SalesChannel.JD,
        channel_order_no="JD-HELD-1",
        status=OrderStatus.PAID,
        raw_status="PAID",
        buyer_name="赵敏",
        buyer_phone="13911110002",
        address=CanonicalAddress("赵敏", "13911110002", "浙江省", "杭州市", "西湖区", "文三路1号"),
        lines=(CanonicalLine("TEA-1", "龙井", 1, 12_800),),
        total_fen=12_800,
        placed_at=None,
        paid_at=None,
        updated_at=None,
    )
    held = ingest_channel_order(database, order, "{}", IntakeRules(high_value_fen=100), SYSTEM)
    assert held.order_id is not None and held.hold is not None
    return held.order_id


def test_a_held_order_is_refused_in_chinese_and_nothing_is_booked(packer, database, k100):
    order_id = _held_order(database)
    with database.read() as session:
        public_no = session.get(Order, order_id).public_no
    before = snapshot(database)
    refused = scan(packer, public_no)
    assert refused.status_code == 409 and "请勿打包" in refused.text
    forced = confirm(packer, order_id, {"parcel_no": "1", "carrier": "zhongtong"})
    assert forced.status_code == 409 and "请勿打包" in forced.text
    assert k100.bookings == []
    assert changed_tables(before, snapshot(database)) <= {"staff_sessions"}


def test_a_carrier_outage_says_try_again_stores_nothing_and_a_retry_books(packer, database, k100):
    order = make_order(database, status=OrderStatus.PAID)
    fields = pack_fields(scan(packer, order.public_no).text)
    before = snapshot(database)
    k100.outage = True
    down = confirm(packer, order.id, fields)
    assert down.status_code == 409 and "暂时连不上快递公司" in down.text
    assert changed_tables(before, snapshot(database)) <= {"staff_sessions"}
    k100.outage = False
    retried = confirm(packer, order.id, fields)
    assert retried.status_code == 200
    _order, (shipment,), _lines = reload_order(database, order.id)
    assert shipment.tracking_no in retried.text


def test_a_carrier_refusal_shows_the_providers_message(packer, database, k100):
    order = make_order(database, status=OrderStatus.PAID)
    fields = pack_fields(scan(packer, order.public_no).text)
    k100.desk.balance = 0
    refused = confirm(packer, order.id, fields)
    assert refused.status_code == 409
    assert "快递公司拒绝下单" in refused.text and "账号单量不足" in refused.text
    assert reload_order(database, order.id)[1] == []


def test_a_stale_parcel_number_or_no_lines_is_refused_without_booking(packer, database, k100):
    order = make_order(database, status=OrderStatus.PAID)
    fields = pack_fields(scan(packer, order.public_no).text)
    stale = confirm(packer, order.id, {**fields, "parcel_no": "3"})
    assert stale.status_code == 409 and "重新扫描" in stale.text
    none = confirm(
        packer, order.id, {k: "0" if k.startswith("qty_") else v for k, v in fields.items()}
    )
    assert none.status_code == 422
    too_many = confirm(
        packer, order.id, {k: "9" if k.startswith("qty_") else v for k, v in fields.items()}
    )
    assert too_many.status_code == 409
    assert k100.bookings == [] and reload_order(database, order.id)[1] == []


def test_void_cancels_at_the_carrier_and_the_lines_can_be_packed_again(packer, database, k100):
    order = make_order(database, status=OrderStatus.PAID)
    fields = pack_fields(scan(packer, order.public_no).text)
    confirm(packer, order.id, fields)
    _order, (shipment,), _lines = reload_order(database, order.id)
    reprinted = packer.post(f"/warehouse/shipments/{shipment.id}/reprint", headers=HTMX)
    assert reprinted.status_code == 200 and "新面单已生成" in reprinted.text
    voided = packer.post(f"/warehouse/shipments/{shipment.id}/void", headers=HTMX)
    assert voided.status_code == 200 and "面单已在快递公司作废" in voided.text
    (cancel,) = k100.cancels
    assert cancel.accepted and cancel.param["kuaidinum"] == shipment.tracking_no
    _order, (shipment,), _lines = reload_order(database, order.id)
    assert shipment.voided_at is not None and shipment.label_reprinted_at is not None
    assert [e.subject_id for e in actions(database, "shipment.voided")] == [str(shipment.id)]
    assert len(actions(database, "shipment.label_reprinted")) == 1
    again = pack_fields(scan(packer, order.public_no).text)
    assert again == {**fields, "parcel_no": "2"}
    assert confirm(packer, order.id, again).status_code == 200
    numbers = [s.tracking_no for s in reload_order(database, order.id)[1]]
    assert len(set(numbers)) == 2  # a new key, a new number: never the voided one back


def test_a_label_the_carrier_has_collected_can_not_be_voided(packer, database, k100):
    order = make_order(database, status=OrderStatus.PAID)
    confirm(packer, order.id, pack_fields(scan(packer, order.public_no).text))
    _order, (shipment,), _lines = reload_order(database, order.id)
    k100.advance(shipment.tracking_no)  # collected; the portal has not heard yet
    refused = packer.post(f"/warehouse/shipments/{shipment.id}/void", headers=HTMX)
    assert refused.status_code == 409 and "揽收" in refused.text
    assert reload_order(database, order.id)[1][0].voided_at is None


def _channel_order(status: OrderStatus, updated_at: datetime) -> CanonicalOrder:
    return CanonicalOrder(
        channel=SalesChannel.TAOBAO,
        channel_order_no="TB-PACK-1",
        status=status,
        raw_status=str(status),
        buyer_name="钱七",
        buyer_phone="13922223333",
        address=CanonicalAddress("钱七", "13922223333", "浙江省", "杭州市", "西湖区", "文二路2号"),
        lines=(CanonicalLine("TEA-1", "龙井", 1, 12_800),),
        total_fen=12_800,
        placed_at=None,
        paid_at=None,
        updated_at=updated_at,
    )


def test_an_order_the_channel_cancels_after_booking_has_its_waybill_voided(
    packer, pack_settings, database, k100
):
    save_sku(database, "TEA-1", "西湖龙井 250g", 50, 8_000, SYSTEM)
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    intake = IntakeRules()
    taken = ingest_channel_order(
        database, _channel_order(OrderStatus.PAID, start), "{}", intake, SYSTEM
    )
    order_id = taken.order_id
    with database.read() as session:
        public_no = session.get(Order, order_id).public_no
    confirm(packer, order_id, pack_fields(scan(packer, public_no).text))
    closed = _channel_order(OrderStatus.CANCELLED, start + timedelta(hours=1))
    ingest_channel_order(database, closed, "{}", intake, SYSTEM)
    run_worker(database, pack_settings)
    (cancel,) = k100.cancels
    _order, (shipment,), _lines = reload_order(database, order_id)
    assert cancel.accepted and cancel.param["kuaidinum"] == shipment.tracking_no
    assert shipment.voided_at is not None
    assert len(actions(database, "order.closed_by_channel")) == 1
    run_worker(database, pack_settings)  # the job ran once; nothing is cancelled twice
    assert len(k100.cancels) == 1


def test_the_staff_order_page_offers_reprint_and_void_for_a_label_booked_here(
    packer, database, k100
):
    order = make_order(database, status=OrderStatus.PAID)
    before = packer.get(f"/admin/orders/{order.id}").text
    assert "补打面单" not in before
    confirm(packer, order.id, pack_fields(scan(packer, order.public_no).text))
    _order, (shipment,), _lines = reload_order(database, order.id)
    page = packer.get(f"/admin/orders/{order.id}").text
    assert f"/warehouse/shipments/{shipment.id}/reprint" in page
    assert f"/warehouse/shipments/{shipment.id}/void" in page
    voided = packer.post(f"/warehouse/shipments/{shipment.id}/void")  # no htmx: the page
    assert voided.status_code == 200 and "面单已在快递公司作废" in voided.text
    assert "补打面单" not in packer.get(f"/admin/orders/{order.id}").text


def test_an_sf_parcel_is_booked_at_the_sf_gateway_with_its_pdf_and_voided_there(
    pack_settings, database
):
    gateway = SfGatewayEmulator(partner_id="TESTCUST", check_word="CW")
    with serve_in_thread(gateway.app) as sf_url:
        sf_settings = replace(
            pack_settings,
            sf_partner_id="TESTCUST",
            sf_check_word="CW",
            sf_url=f"{sf_url}/std/service",
            sf_monthly_card="7551234567",
            waybill_providers="zhongtong=kuaidi100,shunfeng=sf",
        )
        with TestClient(create_app(sf_settings, database)) as client:
            staff_login(client, database, Role.WAREHOUSE)
            client.headers["X-CSRF-Token"] = csrf_token(client, "/warehouse/scan")
            order = make_order(database, status=OrderStatus.PAID)
            fields = pack_fields(scan(client, order.public_no).text)
            booked = confirm(client, order.id, {**fields, "carrier": "shunfeng"})
            assert booked.status_code == 200
            _order, (shipment,), _lines = reload_order(database, order.id)
            assert shipment.carrier_code == "shunfeng" and shipment.tracking_no.startswith("SF")
            with database.read() as session:
                assert session.get(ParcelLabel, shipment.id).pdf.startswith(b"%PDF")
            pdf = client.get(f"/warehouse/shipments/{shipment.id}/label.pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
            voided = client.post(f"/warehouse/shipments/{shipment.id}/void", headers=HTMX)
            assert voided.status_code == 200
    assert len(gateway.bookings) == 1 and len(gateway.cancels) == 1
    assert reload_order(database, order.id)[1][0].voided_at is not None


def test_the_label_names_the_warehouse_the_lines_are_reserved_at_as_sender(packer, database, k100):
    from backend.orders.warehouses import WarehouseFields, save_warehouse, set_stock

    for code, name, province, city, street in (
        ("BJ", "北京仓", "北京市", "北京市", "马驹桥物流园3号"),
        ("GZ", "广州仓", "广东省", "广州市", "白云区太和镇物流园8号"),
    ):
        fields = WarehouseFields(
            code,
            name,
            province,
            contact_name=f"{name}发货组",
            phone="01088886666",
            city=city,
            district="通州区" if code == "BJ" else "白云区",
            street=street,
        )
        save_warehouse(database, fields, SYSTEM)
    save_sku(database, "TEA-1", "西湖龙井 250g", 0, 8_000, SYSTEM, warehouse="BJ")
    set_stock(database, "GZ", "TEA-1", 5, SYSTEM)
    order = ingest_channel_order(
        database,
        _channel_order(OrderStatus.PAID, datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        "{}",
        IntakeRules(),
        SYSTEM,
    )
    with database.read() as session:
        public_no = session.get(Order, order.order_id).public_no
    confirm(packer, order.order_id, pack_fields(scan(packer, public_no).text))
    (booking,) = k100.bookings
    assert booking.param["sendMan"]["name"] == "广州仓发货组"  # only Guangzhou has the tea
    assert "白云区太和镇物流园8号" in booking.param["sendMan"]["printAddr"]
    _order, (shipment,), _lines = reload_order(database, order.order_id)
    assert shipment.origin_province == "广东省"


def _split_across_warehouses(database) -> int:
    """An order for 浙江 whose cup is only at HZ and whose tray only at GZ."""
    for fields in (
        WarehouseFields("HZ", "杭州仓", "浙江省", priority=1, contact_name="王师傅",
                        phone="057188880000", city="杭州市", district="余杭区", street="仓前1号"),
        WarehouseFields("GZ", "广州仓", "广东省", priority=2, contact_name="李师傅",
                        phone="02088880000", city="广州市", district="白云区", street="太和2号"),
    ):  # fmt: skip
        save_warehouse(database, fields, SYSTEM)
    save_sku(database, "CUP-1", "茶杯", 0, 1_000, SYSTEM)
    save_sku(database, "TRAY-1", "茶盘", 0, 4_000, SYSTEM)
    set_stock(database, "HZ", "CUP-1", 5, SYSTEM)
    set_stock(database, "GZ", "TRAY-1", 5, SYSTEM)
    order = replace(
        _channel_order(OrderStatus.PAID, datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        channel_order_no="TB-SPLIT-1",
        lines=(CanonicalLine("CUP-1", "茶杯", 2, 3_000), CanonicalLine("TRAY-1", "茶盘", 1, 8_800)),
    )
    taken = ingest_channel_order(database, order, "{}", IntakeRules(), SYSTEM)
    assert taken.order_id is not None
    return taken.order_id


def test_each_warehouse_packs_its_own_lines_and_a_parcel_from_two_is_refused(
    packer, database, k100
):
    order_id = _split_across_warehouses(database)
    with database.read() as session:
        public_no = session.get(Order, order_id).public_no
        ids = dict(
            session.execute(
                select(OrderLine.sku, OrderLine.id).where(OrderLine.order_id == order_id)
            ).all()
        )
    cup, tray = f"qty_{ids['CUP-1']}", f"qty_{ids['TRAY-1']}"
    page = scan(packer, public_no).text
    assert "杭州仓" in page and "广州仓" in page  # where each line waits
    fields = pack_fields(page)
    assert (fields[cup], fields[tray]) == ("2", "0")  # the first warehouse's lines only
    before = snapshot(database)
    both = confirm(packer, order_id, {**fields, tray: "1"})
    assert both.status_code == 409 and "两个仓库" in both.text
    assert k100.bookings == []
    assert changed_tables(before, snapshot(database)) <= {"staff_sessions"}
    assert confirm(packer, order_id, fields).status_code == 200
    second = pack_fields(scan(packer, public_no).text)
    assert second[tray] == "1" and cup not in second
    assert confirm(packer, order_id, second).status_code == 200
    assert [b.param["sendMan"]["name"] for b in k100.bookings] == ["王师傅", "李师傅"]
    _order, shipments, lines = reload_order(database, order_id)
    assert [lines[s.id] for s in shipments] == [{ids["CUP-1"]: 2}, {ids["TRAY-1"]: 1}]


def _customer_cancels(pack_settings, database, order):
    with TestClient(create_app(pack_settings, database)) as buyer:
        open_short_link(buyer, database, order.id)
        token = csrf_token(buyer)
        return buyer.post(
            f"/orders/{order.public_no}/cancel",
            data={"reason": "changed_mind", "csrf_token": token},
            follow_redirects=False,
        )


def test_a_customer_cancel_after_the_pack_scan_voids_the_booked_waybill_first(
    packer, pack_settings, database, k100
):
    order = make_order(database, status=OrderStatus.PAID)
    confirm(packer, order.id, pack_fields(scan(packer, order.public_no).text))
    _order, (shipment,), _lines = reload_order(database, order.id)
    assert _customer_cancels(pack_settings, database, order).status_code == 303
    (cancel,) = k100.cancels
    assert cancel.accepted and cancel.param["kuaidinum"] == shipment.tracking_no
    cancelled, (shipment,), _lines = reload_order(database, order.id)
    assert cancelled.status == OrderStatus.CANCELLED and shipment.voided_at is not None


def test_a_customer_cancel_of_a_collected_parcel_is_refused_and_the_order_stays(
    packer, pack_settings, database, k100
):
    order = make_order(database, status=OrderStatus.PAID)
    confirm(packer, order.id, pack_fields(scan(packer, order.public_no).text))
    _order, (shipment,), _lines = reload_order(database, order.id)
    k100.advance(shipment.tracking_no)  # collected; the portal has not heard yet
    refused = _customer_cancels(pack_settings, database, order)
    assert refused.status_code == 409 and "拒收" in refused.text
    packed, (shipment,), _lines = reload_order(database, order.id)
    assert packed.status == OrderStatus.PACKED and shipment.voided_at is None
