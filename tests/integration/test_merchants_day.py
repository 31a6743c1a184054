"""A merchant's day through the public surface: a signed Taobao push, stock reserved at the
nearer warehouse, scan and book at the SF emulator, the label, the ship confirmation at the
Taobao emulator, SF route pushes, the customer's one "shipped" text and the tracking page.

Every outside party is a loopback emulator; the app is driven over HTTP; values are read back
from the database between steps. Setup (warehouses, stock, staff) goes through the services a
merchant's setup would use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.jobs.worker import Worker
from backend.logistics.models import Shipment, ShipmentLine
from backend.logistics.status import TrackingStatus
from backend.orders.channels import signatures as sig
from backend.orders.inventory import save_sku
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import (
    Order,
    OrderLine,
    Reservation,
    ReservationState,
    Sku,
    Warehouse,
    WarehouseStock,
)
from backend.orders.warehouses import WarehouseFields, save_warehouse, set_stock
from backend.staff.models import Role
from emulators.channels import ChannelEmulator
from emulators.notifications import DEMO_ALIYUN_KEYS, NotificationEmulator
from emulators.serving import serve_in_thread
from emulators.sf import SfGatewayEmulator, SfPushSender, build_route
from portal.app import create_app
from portal.background import build_handlers
from portal.demo_services import DEMO_SMS_TEMPLATES, DEMO_SMS_TEXTS
from portal.integrations import build_integrations
from portal.settings import Settings
from tests.conftest import SF_PUSH_TOKEN
from tests.factories import SYSTEM
from tests.portal.helpers import csrf_token, staff_login

APP_KEY, APP_SECRET = "tb-shop-key", "tb-shop-secret-0123"
SHOP = "tb-tea"
SF_PARTNER, SF_CHECK_WORD = "TESTCUST", "TESTCHECKWORD"
HTMX = {"HX-Request": "true"}
T = TrackingStatus

HZ = WarehouseFields(
    "HZ", "杭州仓", "浙江省", serves=("华东",), priority=2, contact_name="杭州仓 王师傅",
    phone="057188880000", city="杭州市", district="余杭区", street="仓前街道1号",
)  # fmt: skip
GZ = WarehouseFields(
    "GZ", "广州仓", "广东省", serves=("华南",), priority=1, contact_name="广州仓 李师傅",
    phone="02088880000", city="广州市", district="白云区", street="太和镇2号",
)  # fmt: skip


@dataclass
class Day:
    settings: Settings
    database: Database
    client: TestClient
    top: ChannelEmulator
    sf: SfGatewayEmulator
    sms: NotificationEmulator


def _shops_file(folder: Path, top_url: str) -> Path:
    path = folder / "shops.toml"
    path.write_text(
        "[[shops]]\n"
        f'code = "{SHOP}"\nchannel = "taobao"\nname = "淘宝茶铺"\n'
        f'app_key = "{APP_KEY}"\napp_secret = "{APP_SECRET}"\nsession_token = "session-tb"\n'
        f'api_base_url = "{top_url}/router/rest"\nplatform_shop_id = "seller-tb"\n'
        "default = true\n",
        encoding="utf-8",
    )
    return path


@contextmanager
def merchants_day(database: Database, settings: Settings, folder: Path) -> Iterator[Day]:
    top = ChannelEmulator("taobao", {APP_KEY: APP_SECRET})
    gateway = SfGatewayEmulator(partner_id=SF_PARTNER, check_word=SF_CHECK_WORD)
    sms = NotificationEmulator(sms_templates=DEMO_SMS_TEXTS)
    ((key_id, key_secret),) = DEMO_ALIYUN_KEYS.items()
    with ExitStack() as stack:
        top_url = stack.enter_context(serve_in_thread(top.app))
        sf_url = stack.enter_context(serve_in_thread(gateway.app))
        sms_url = stack.enter_context(serve_in_thread(sms.app))
        wired = replace(
            settings,
            shops_file=str(_shops_file(folder, top_url)),
            # An SF-only merchant: SF pushes the routes, no Kuaidi100 account is asked.
            kuaidi100_key="",
            sf_partner_id=SF_PARTNER,
            sf_check_word=SF_CHECK_WORD,
            sf_url=f"{sf_url}/std/service",
            sf_monthly_card="7551234567",
            waybill_providers="shunfeng=sf",
            waybill_default_carrier="shunfeng",
            aliyun_sms_access_key_id=key_id,
            aliyun_sms_access_key_secret=key_secret,
            aliyun_sms_sign_name="示例商城",
            aliyun_sms_endpoint=sms_url,
            sms_templates=DEMO_SMS_TEMPLATES,
        )
        client = stack.enter_context(TestClient(create_app(wired, database)))
        yield Day(wired, database, client, top, gateway, sms)


def set_up_warehouses(database: Database) -> None:
    """杭州 serves 华东, 广州 华南; tea at both, the cup only at HZ, the tray only at GZ.
    GZ comes first by priority, so an order HZ gets is the region rule's choice."""
    save_warehouse(database, HZ, SYSTEM)
    save_warehouse(database, GZ, SYSTEM)
    save_sku(database, "TEA-LJ-250", "西湖龙井 250g", 0, 6_000, SYSTEM)
    save_sku(database, "CUP-GLASS", "玻璃茶杯", 0, 1_200, SYSTEM)
    save_sku(database, "TRAY-BAMBOO", "竹茶盘", 0, 3_500, SYSTEM)
    set_stock(database, "HZ", "TEA-LJ-250", 10, SYSTEM)
    set_stock(database, "GZ", "TEA-LJ-250", 10, SYSTEM)
    set_stock(database, "HZ", "CUP-GLASS", 5, SYSTEM)
    set_stock(database, "GZ", "TRAY-BAMBOO", 5, SYSTEM)


def taobao_push(tid: int, phone: str, lines: list[tuple[str, str, int, str]]) -> dict[str, str]:
    """A TOP trade push for a 浙江 buyer, signed with the shop's app secret."""
    trade: dict[str, Any] = {
        "tid": tid,
        "tid_str": str(tid),
        "status": "WAIT_SELLER_SEND_GOODS",
        "type": "fixed",
        "payment": f"{sum(n * float(p) for _sku, _t, n, p in lines):.2f}",
        "total_fee": f"{sum(n * float(p) for _sku, _t, n, p in lines):.2f}",
        "discount_fee": "0.00",
        "post_fee": "0.00",
        "created": "2026-11-30 09:00:00",
        "pay_time": "2026-11-30 09:00:30",
        "modified": "2026-11-30 09:00:31",
        "receiver_name": "周晓梅",
        "receiver_mobile": phone,
        "receiver_state": "浙江省",
        "receiver_city": "杭州市",
        "receiver_district": "西湖区",
        "receiver_town": "北山街道",
        "receiver_address": "北山路84号 2幢 301",
        "receiver_zip": "310007",
        "orders": {
            "order": [
                {
                    "oid": tid + index,
                    "num_iid": 700000 + index,
                    "sku_id": str(900000 + index),
                    "outer_sku_id": sku,
                    "title": title,
                    "num": num,
                    "price": price,
                    "payment": f"{num * float(price):.2f}",
                    "status": "WAIT_SELLER_SEND_GOODS",
                    "refund_status": "NO_REFUND",
                }
                for index, (sku, title, num, price) in enumerate(lines, 1)
            ]
        },
    }
    params = {
        "app_key": "push",
        "timestamp": "2026-11-30 09:00:31",
        "sign_method": "md5",
        "trade": json.dumps(trade, ensure_ascii=False),
    }
    return params | {"sign": sig.build_top_signature(params, APP_SECRET)}


def run_worker(day: Day) -> None:
    integrations = build_integrations(day.settings)
    try:
        Worker(day.database, build_handlers(day.settings, integrations)).run_until_idle()
    finally:
        integrations.close()


def order_of(database: Database, tid: int) -> Order:
    with database.read() as session:
        order = session.scalars(select(Order).where(Order.channel_order_no == str(tid))).one()
        session.expunge(order)
        return order


def reserved_at(database: Database, order_id: int) -> dict[str, str]:
    """SKU code -> the warehouse code its units are reserved at."""
    with database.read() as session:
        rows = session.execute(
            select(OrderLine.sku, Warehouse.code)
            .join(Reservation, Reservation.order_line_id == OrderLine.id)
            .join(Warehouse, Warehouse.id == Reservation.warehouse_id)
            .where(
                OrderLine.order_id == order_id,
                Reservation.state == ReservationState.RESERVED,
            )
        ).all()
    return {sku: code for sku, code in rows}


def shipments_of(database: Database, order_id: int) -> list[tuple[Shipment, dict[str, int]]]:
    with database.read() as session:
        shipments = session.scalars(
            select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)
        ).all()
        result = []
        for shipment in shipments:
            lines = session.execute(
                select(OrderLine.sku, ShipmentLine.quantity)
                .join(OrderLine, OrderLine.id == ShipmentLine.order_line_id)
                .where(ShipmentLine.shipment_id == shipment.id)
            ).all()
            session.expunge(shipment)
            result.append((shipment, dict(lines)))
        return result


def line_ids(database: Database, order_id: int) -> dict[str, int]:
    with database.read() as session:
        rows = session.execute(
            select(OrderLine.sku, OrderLine.id).where(OrderLine.order_id == order_id)
        ).all()
    return dict(rows)


def pack_fields(html: str) -> dict[str, str]:
    """The confirm form as the scan page offers it: parcel number, carrier, every quantity."""
    form = re.search(r'<form id="pack_form".*?</form>', html, re.S)
    assert form, "no pack form on the page"
    fields = dict(re.findall(r'name="(parcel_no|qty_\d+)" value="(\d+)"', form.group(0)))
    carrier = re.search(r'<option value="(\w+)" selected', form.group(0))
    assert carrier, "no carrier chosen on the pack form"
    fields["carrier"] = carrier.group(1)
    return fields


class Packer:
    """Warehouse staff at the scan page, logged in on their own browser."""

    def __init__(self, day: Day) -> None:
        self.day = day
        self.client = TestClient(create_app(day.settings, day.database))
        self.client.__enter__()
        staff_login(self.client, day.database, Role.WAREHOUSE, "仓库小张")
        self.client.headers["X-CSRF-Token"] = csrf_token(self.client, "/warehouse/scan")

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def scan(self, public_no: str) -> dict[str, str]:
        page = self.client.post("/warehouse/scan", data={"code": public_no}, headers=HTMX)
        assert page.status_code == 200, page.text
        return pack_fields(page.text)

    def confirm(self, order_id: int, fields: dict[str, str]) -> str:
        booked = self.client.post(
            f"/warehouse/orders/{order_id}/parcels", data=fields, headers=HTMX
        )
        assert booked.status_code == 200, booked.text
        return booked.text

    def label(self, shipment: Shipment, sender: str) -> None:
        """The label PDF opens, and it is SF's label of this waybill from this warehouse."""
        pdf = self.client.get(f"/warehouse/shipments/{shipment.id}/label.pdf")
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        for text in (shipment.tracking_no, sender):
            assert pdf_text(text) in pdf.content


def pdf_text(value: str) -> bytes:
    """Text as the emulator's label writes it: UTF-16BE hex (emulators/label_pdf.py)."""
    return value.encode("utf-16-be").hex().upper().encode()


@pytest.fixture
def day(database, settings, tmp_path) -> Iterator[Day]:
    set_up_warehouses(database)
    with merchants_day(database, settings, tmp_path) as opened:
        yield opened


@pytest.fixture
def packer(day) -> Iterator[Packer]:
    staff = Packer(day)
    try:
        yield staff
    finally:
        staff.close()


def take_push(day: Day, tid: int, phone: str, lines: list[tuple[str, str, int, str]]) -> Order:
    answer = day.client.post(
        f"/webhooks/channels/taobao/{SHOP}", data=taobao_push(tid, phone, lines)
    )
    assert answer.status_code == 200, answer.text
    run_worker(day)
    return order_of(day.database, tid)


def sf_route(mailno: str, order_no: str, origin: str) -> list[dict[str, str]]:
    """SF's route for the parcel as it happens now: steps a second apart, all news, none in
    the future (SF's acceptTime is to the second, so the booking's second may come first)."""
    start = utcnow().replace(microsecond=0)
    items = build_route(mailno, order_id=order_no, start=start, origin=origin)
    for index, item in enumerate(items):
        moment = (start - timedelta(seconds=len(items) - index)).astimezone(SHANGHAI)
        item["acceptTime"] = moment.strftime("%Y-%m-%d %H:%M:%S")
    return items


def push_route(day: Day, items: list[dict[str, str]]) -> None:
    """SF's push service posting route items to the portal's webhook, one push each."""
    sender = SfPushSender(f"/webhooks/sf/{SF_PUSH_TOKEN}", day.client)
    for item in items:
        assert SfPushSender.accepted(sender.push([item])), sender.responses[-1].text


def shipped_texts(day: Day) -> list[dict[str, Any]]:
    return [m for m in day.sms.sent("sms") if m["template_code"] == "SMS_DEMO_SHIPPED"]


def follow_link(day: Day, link: str) -> str:
    """The customer taps the link in the text, on their own phone."""
    path = link.removeprefix(day.settings.base_url)
    with TestClient(create_app(day.settings, day.database)) as phone:
        page = phone.get(path)
    assert page.status_code == 200, page.text
    return page.text


def headline(page: str) -> str:
    """What the tracking page says the order is at (the progress bar lists every step)."""
    found = re.search(r'<p class="headline">(.*?)</p>', page, re.S)
    assert found, "no headline on the tracking page"
    return found.group(1).strip()


def one_shipped_text(day: Day, phone: str, public_no: str) -> str:
    (message,) = shipped_texts(day)
    assert message["phone"] == phone
    link = message["params"]["link"]
    assert re.fullmatch(r"http://testserver/t/\w+", link)
    assert public_no in message["content"] and link in message["content"]
    return link


UNTOUCHED = {("HZ", "TEA-LJ-250"): 10, ("GZ", "TEA-LJ-250"): 10}


def on_hand(database: Database) -> dict[tuple[str, str], int]:
    """(warehouse, SKU) -> units on the shelf, where there are any."""
    with database.read() as session:
        rows = session.execute(
            select(Warehouse.code, Sku.code, WarehouseStock.on_hand)
            .join(Warehouse, Warehouse.id == WarehouseStock.warehouse_id)
            .join(Sku, Sku.id == WarehouseStock.sku_id)
        ).all()
    return {(warehouse, sku): units for warehouse, sku, units in rows if units}


def parcel_blocks(html: str) -> list[str]:
    """Each parcel's card on the tracking page, as its text."""
    cards = re.findall(r'<article class="parcel".*?</article>', html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", card) for card in cards]


TEA = ("TEA-LJ-250", "西湖龙井 250g", 2, "128.00")
CUP = ("CUP-GLASS", "玻璃茶杯", 2, "30.00")
TRAY = ("TRAY-BAMBOO", "竹茶盘", 1, "88.00")


def test_one_parcel_from_the_push_to_the_doorstep(day, packer):
    phone = "13857100001"
    order = take_push(day, 3001, phone, [TEA])
    assert order.status == OrderStatus.PAID
    # Both warehouses hold the tea; the buyer is in 浙江, which HZ serves.
    assert reserved_at(day.database, order.id) == {"TEA-LJ-250": "HZ"}

    # The packer at HZ scans the order and confirms the one parcel; SF books its waybill.
    fields = packer.scan(order.public_no)
    assert fields["carrier"] == "shunfeng" and fields["parcel_no"] == "1"
    booked = packer.confirm(order.id, fields)
    (booking,) = day.sf.bookings
    assert booking.msg["orderId"] == f"{order.public_no}-1"
    ((shipment, lines),) = shipments_of(day.database, order.id)
    assert shipment.carrier_code == "shunfeng" and shipment.tracking_no.startswith("SF")
    assert shipment.tracking_no in booked
    assert lines == {"TEA-LJ-250": 2}
    sender, recipient = booking.msg["contactInfoList"]
    assert (sender["contact"], sender["city"], sender["mobile"]) == (
        "杭州仓 王师傅", "杭州市", "057188880000"
    )  # fmt: skip
    assert (recipient["contact"], recipient["mobile"], recipient["province"]) == (
        "周晓梅", phone, "浙江省"
    )  # fmt: skip
    assert [(c["name"], c["count"]) for c in booking.msg["cargoDetails"]] == [
        ("西湖龙井 250g", 2)
    ]  # fmt: skip
    packer.label(shipment, "杭州仓 王师傅")
    assert order_of(day.database, 3001).status == OrderStatus.PACKED

    # SF collects the parcel; the worker confirms the shipment to Taobao with that waybill.
    route = sf_route(shipment.tracking_no, booking.msg["orderId"], "杭州市")
    push_route(day, route[:1])
    run_worker(day)
    assert order_of(day.database, 3001).status == OrderStatus.SHIPPED
    assert [(c.shop, c.order_no, c.carrier, c.waybill) for c in day.top.confirmations] == [
        (APP_KEY, "3001", "SF", shipment.tracking_no)
    ]
    link = one_shipped_text(day, phone, order.public_no)
    assert headline(follow_link(day, link)) == "已揽收"  # a lone parcel speaks for the order

    # In transit, then delivered: still one "shipped" text, and the page says 已签收.
    push_route(day, route[1:-1])
    run_worker(day)
    assert shipments_of(day.database, order.id)[0][0].status == T.OUT_FOR_DELIVERY
    assert headline(follow_link(day, link)) == "派送中"
    push_route(day, route[-1:])
    run_worker(day)
    assert order_of(day.database, 3001).status == OrderStatus.DELIVERED
    assert shipments_of(day.database, order.id)[0][0].status == T.DELIVERED
    assert one_shipped_text(day, phone, order.public_no) == link
    assert len(day.top.confirmations) == 1
    assert headline(follow_link(day, link)) == "已签收"
    # The units left HZ's shelf, the one the rules chose; GZ's are untouched.
    assert on_hand(day.database) == {
        ("HZ", "TEA-LJ-250"): 8, ("GZ", "TEA-LJ-250"): 10,
        ("HZ", "CUP-GLASS"): 5, ("GZ", "TRAY-BAMBOO"): 5,
    }  # fmt: skip


def test_an_order_split_across_two_warehouses_travels_in_two_parcels(day, packer):
    phone = "13857100002"
    order = take_push(day, 4001, phone, [CUP, TRAY])
    assert order.status == OrderStatus.PAID
    # The cup is only at HZ, the tray only at GZ: one line each.
    assert reserved_at(day.database, order.id) == {"CUP-GLASS": "HZ", "TRAY-BAMBOO": "GZ"}
    ids = line_ids(day.database, order.id)
    cup, tray = f"qty_{ids['CUP-GLASS']}", f"qty_{ids['TRAY-BAMBOO']}"

    # HZ packs its line, GZ packs its own: two scans, two SF bookings, two senders. The
    # form offers one warehouse's lines at a time; both in one parcel is refused.
    at_hz = packer.scan(order.public_no)
    assert (at_hz[cup], at_hz[tray]) == ("2", "0")
    mixed = packer.client.post(
        f"/warehouse/orders/{order.id}/parcels", data={**at_hz, tray: "1"}, headers=HTMX
    )
    assert mixed.status_code == 409 and "两个仓库" in mixed.text
    assert day.sf.bookings == [] and shipments_of(day.database, order.id) == []
    packer.confirm(order.id, at_hz)
    at_gz = packer.scan(order.public_no)
    assert at_gz["parcel_no"] == "2" and at_gz[tray] == "1" and cup not in at_gz
    packer.confirm(order.id, at_gz)
    first_booking, second_booking = day.sf.bookings
    assert [b.msg["contactInfoList"][0]["city"] for b in (first_booking, second_booking)] == [
        "杭州市",
        "广州市",
    ]
    (first, first_lines), (second, second_lines) = shipments_of(day.database, order.id)
    assert (first_lines, second_lines) == ({"CUP-GLASS": 2}, {"TRAY-BAMBOO": 1})
    assert first.tracking_no != second.tracking_no
    packer.label(first, "杭州仓 王师傅")
    packer.label(second, "广州仓 李师傅")

    # The HZ parcel is collected first: part of the order has left.
    first_route = sf_route(first.tracking_no, first_booking.msg["orderId"], "杭州市")
    second_route = sf_route(second.tracking_no, second_booking.msg["orderId"], "广州市")
    push_route(day, first_route[:1])
    run_worker(day)
    assert order_of(day.database, 4001).status == OrderStatus.PARTIALLY_SHIPPED
    link = one_shipped_text(day, phone, order.public_no)
    page = follow_link(day, link)
    assert headline(page) == "部分发货"
    hz_parcel, gz_parcel = parcel_blocks(page)
    assert first.tracking_no in hz_parcel and "玻璃茶杯×2" in hz_parcel
    assert "竹茶盘" not in hz_parcel and "已揽收" in hz_parcel
    assert second.tracking_no in gz_parcel and "竹茶盘×1" in gz_parcel
    assert "玻璃茶杯" not in gz_parcel and "待揽收" in gz_parcel
    assert on_hand(day.database) == {
        ("HZ", "CUP-GLASS"): 3, ("GZ", "TRAY-BAMBOO"): 5, **UNTOUCHED
    }  # fmt: skip

    # The GZ parcel is collected: the whole order has left.
    push_route(day, second_route[:1])
    run_worker(day)
    assert order_of(day.database, 4001).status == OrderStatus.SHIPPED
    assert headline(follow_link(day, link)) == "已发货"
    confirmed = {(c.order_no, c.carrier, c.waybill) for c in day.top.confirmations}
    assert confirmed == {
        ("4001", "SF", first.tracking_no),
        ("4001", "SF", second.tracking_no),
    }
    # Each parcel confirmed as a split delivery of its own Taobao sub-order (oid).
    oids = {c.waybill: c.lines for c in day.top.confirmations}
    assert oids == {first.tracking_no: (("4002", 0),), second.tracking_no: (("4003", 0),)}
    assert on_hand(day.database) == {
        ("HZ", "CUP-GLASS"): 3, ("GZ", "TRAY-BAMBOO"): 4, **UNTOUCHED
    }  # fmt: skip

    # Both travel and arrive.
    push_route(day, first_route[1:])
    push_route(day, second_route[1:])
    run_worker(day)
    assert order_of(day.database, 4001).status == OrderStatus.DELIVERED
    assert [s.status for s, _lines in shipments_of(day.database, order.id)] == [
        T.DELIVERED,
        T.DELIVERED,
    ]
    assert one_shipped_text(day, phone, order.public_no) == link
    assert headline(follow_link(day, link)) == "已签收"
