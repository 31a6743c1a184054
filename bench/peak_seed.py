"""What the peak sends: signed Shopify and Taobao orders, Kuaidi100 pushes of parcels that
left today, and the links customers open; and the parcels those pushes are about."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.orders.access import LinkSigner, issue_short_link
from backend.orders.channels import map_order
from backend.orders.channels.signatures import build_top_signature
from backend.orders.lifecycle import OrderAction
from backend.orders.models import Order, PaymentMethod, SalesChannel
from backend.orders.service import NewAddress, NewLine, NewOrder, apply_action
from bench import BENCH_ACTOR, BENCH_SECRET
from bench.channel_intake import PRODUCTS, build_deliveries
from bench.peak_traffic import Delivery, PageVisit, json_says
from bench.push_callbacks import BENCH_SALT, CARRIER, RESULTV2
from emulators.kuaidi100 import Kuaidi100Emulator, Subscription
from tests.factories import create_label, place_order

# New each run; the servers get it in PORTAL_CHANNEL_SECRETS.
TAOBAO_SECRET = secrets.token_urlsafe(24)
# Every parcel's journey is replayed inside the last few hours, so each step is news the
# customer hears of (backend/logistics/service.py: NEWS_WINDOW) and none is in the future.
JOURNEY = timedelta(hours=10)
JOURNEY_ENDS_AGO = timedelta(minutes=5)


@dataclass(frozen=True)
class Parcel:
    order_id: int
    public_no: str
    shipment_id: int
    tracking_no: str


def shopify_orders(count: int) -> tuple[list[Delivery], dict[str, str]]:
    """Distinct signed orders/create deliveries; key (event id) -> channel order number."""
    deliveries, numbers = [], {}
    for made in build_deliveries(count):
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": made.signature,
            "X-Shopify-Event-Id": made.event_id,
        }
        number = map_order(SalesChannel.SHOPIFY, json.loads(made.body)).channel_order_no
        numbers[made.event_id] = number
        deliveries.append(
            Delivery("shopify", made.event_id, "/webhooks/shopify", made.body, headers, _accepted)
        )
    return deliveries, numbers


def _accepted(answer: httpx.Response) -> bool:
    return json_says(answer, "accepted")


def _trade(tid: int, placed: Any) -> dict[str, Any]:
    sku, title, fen = PRODUCTS[tid % len(PRODUCTS)]
    price = f"{fen // 100}.{fen % 100:02d}"
    phone = f"137{tid % 10**8:08d}"
    stamp = placed.strftime("%Y-%m-%d %H:%M:%S")
    line = {"oid": tid * 10 + 1, "num_iid": 700001, "sku_id": "900001", "outer_sku_id": sku}
    line |= {"title": title, "num": 1, "price": price, "payment": price}
    line |= {"status": "WAIT_SELLER_SEND_GOODS", "refund_status": "NO_REFUND"}
    return {
        "tid": tid,
        "tid_str": str(tid),
        "status": "WAIT_SELLER_SEND_GOODS",
        "type": "fixed",
        "payment": price,
        "total_fee": price,
        "discount_fee": "0.00",
        "post_fee": "0.00",
        "created": stamp,
        "pay_time": stamp,
        "modified": stamp,
        "receiver_name": "周晓梅",
        "receiver_mobile": phone,
        "receiver_state": "浙江省",
        "receiver_city": "杭州市",
        "receiver_district": "西湖区",
        "receiver_town": "北山街道",
        "receiver_address": "北山路84号 2幢 301",
        "receiver_zip": "310007",
        "orders": {"order": [line]},
    }


def taobao_orders(count: int) -> tuple[list[Delivery], dict[str, str]]:
    """TOP trade pushes (form, md5-signed); they carry no event id, so the trade is the key."""
    deliveries, numbers = [], {}
    start = utcnow().astimezone(SHANGHAI) - timedelta(seconds=count + 60)
    for index in range(count):
        tid = 4_100_000_000 + index
        trade = json.dumps(_trade(tid, start + timedelta(seconds=index)), ensure_ascii=False)
        params = {"app_key": "peak", "timestamp": f"{start:%Y-%m-%d %H:%M:%S}"}
        params |= {"sign_method": "md5", "trade": trade}
        body = urlencode({**params, "sign": build_top_signature(params, TAOBAO_SECRET)})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        key = str(tid)
        numbers[key] = map_order(SalesChannel.TAOBAO, json.loads(trade)).channel_order_no
        path = "/webhooks/channels/taobao"
        deliveries.append(Delivery("taobao", key, path, body.encode(), headers, _accepted))
    return deliveries, numbers


def seed_parcels(database: Database, count: int) -> list[Parcel]:
    """Packed orders whose 中通 label was printed this morning: each ships at its pickup scan."""
    packed_at = utcnow() - JOURNEY - timedelta(hours=1)
    parcels = []
    for index in range(count):
        phone = f"136{index:08d}"
        order_id = place_order(
            database,
            NewOrder(
                channel=SalesChannel.TAOBAO,
                channel_order_no=f"PEAK{index:05d}",
                customer_name="王芳",
                customer_phone=phone,
                address=NewAddress("王芳", phone, "浙江省", "杭州市", "西湖区", "文三路100号"),
                lines=[NewLine("TEA-LJ-250", "明前西湖龙井 250g 礼盒装", 1, 26_800)],
                payment_method=PaymentMethod.WECHAT_PAY,
                placed_at=packed_at - timedelta(hours=2),
            ),
            BENCH_ACTOR,
        )
        for action in (OrderAction.PAY, OrderAction.START_PICKING, OrderAction.PACK):
            apply_action(database, order_id, action, BENCH_ACTOR, at=packed_at)
        number = f"73{660000000000 + index * 7919}"
        shipment_id = create_label(database, order_id, CARRIER, number, BENCH_ACTOR, packed_at)
        with database.read() as session:
            order = session.get(Order, order_id)
            assert order is not None
            parcels.append(Parcel(order_id, order.public_no, shipment_id, number))
    return parcels


def kuaidi100_pushes(parcels: list[Parcel]) -> tuple[list[Delivery], dict[str, int]]:
    """Three full-history pushes a parcel (picked up, out for delivery, signed for), all the
    first ones first; key "<waybill>:<events>" -> events it carries."""
    end = utcnow() - JOURNEY_ENDS_AGO
    rounds: list[list[Delivery]] = [[], [], []]
    sizes: dict[str, int] = {}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with httpx.Client() as unused:
        emulator = Kuaidi100Emulator(http=unused)
        for parcel in parcels:
            waybill = emulator.add_waybill(CARRIER, parcel.tracking_no)
            first, last = waybill.plan[0].at, waybill.plan[-1].at
            scale = JOURNEY / (last - first)
            begin = end - JOURNEY
            waybill.plan = [replace(t, at=begin + (t.at - first) * scale) for t in waybill.plan]
            waybill.subscription = Subscription("http://peak", BENCH_SALT, RESULTV2)
            out = next(i for i, t in enumerate(waybill.plan) if t.code == "5")
            for slot, revealed in enumerate((2, out + 1, len(waybill.plan))):
                waybill.revealed = revealed
                _url, param, sign = emulator.build_push(waybill)
                key = f"{parcel.tracking_no}:{revealed}"
                sizes[key] = revealed
                body = urlencode({"param": param, "sign": sign}).encode()
                rounds[slot].append(
                    Delivery("push", key, "/webhooks/kuaidi100", body, headers, _result)
                )
    return [delivery for batch in rounds for delivery in batch], sizes


def _result(answer: httpx.Response) -> bool:
    return json_says(answer, "result")


def page_visits(database: Database, parcels: list[Parcel]) -> list[PageVisit]:
    """Half the customers come by SMS short code, half by the signed WeChat link."""
    signer = LinkSigner([BENCH_SECRET], timedelta(days=30))
    visits = []
    for index, parcel in enumerate(parcels):
        page = f"/orders/{parcel.public_no}"
        if index % 2:
            code = issue_short_link(database, parcel.order_id, BENCH_ACTOR, timedelta(days=1))
            visits.append(PageVisit(f"/t/{code}", page, parcel.public_no))
        else:
            with database.read() as session:
                order = session.get(Order, parcel.order_id)
                assert order is not None
                token = signer.sign(order.id, order.link_version)
            visits.append(PageVisit(f"/o/{token}", page, parcel.public_no))
    return visits


def longest_acked(sizes: dict[str, int], acked: set[str]) -> dict[str, int]:
    """Per waybill, the events of its longest acknowledged push (full histories nest)."""
    longest: dict[str, int] = {}
    for key in acked:
        number = key.rsplit(":", 1)[0]
        longest[number] = max(longest.get(number, 0), sizes[key])
    return longest
