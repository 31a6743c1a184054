"""The ERP/WMS waybill push, through HTTP: signed and fresh or refused, parcel by parcel.

Every answer is checked against the shipments read back from the database afterwards.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.db import Database
from backend.fulfilment.erp_push import build_signature
from backend.logistics.models import Shipment, ShipmentLine
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, OrderLine
from backend.orders.service import NewLine
from portal.app import create_app
from tests.factories import make_order

SECRET = "erp-shared-secret-0123456789"


@pytest.fixture
def erp(settings, database):
    with TestClient(create_app(replace(settings, erp_secret=SECRET), database)) as client:
        yield client


def push(client, payload, *, secret=SECRET, age=0, raw=None):
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
    stamp = str(int(time.time()) - age)
    return client.post(
        "/webhooks/erp/waybills",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Portal-Timestamp": stamp,
            "X-Portal-Signature": build_signature(secret, stamp, body),
        },
    )


def shipments(database) -> list[tuple[int, str, str, str]]:
    with database.read() as session:
        rows = session.execute(
            select(
                Shipment.order_id, Shipment.carrier_code, Shipment.tracking_no, Shipment.source
            ).order_by(Shipment.id)
        )
        return [tuple(row) for row in rows]


def status(database, order_id) -> OrderStatus:
    with database.read() as session:
        return session.scalar(select(Order.status).where(Order.id == order_id))


def test_a_pushed_waybill_becomes_a_shipped_parcel_once_and_another_orders_is_refused(
    erp, database
):
    order, other = make_order(database), make_order(database)
    first = push(
        erp, {"order": order.public_no, "carrier": "shunfeng", "waybill": "SF1001001000001"}
    )
    again = push(erp, {"order": order.public_no, "carrier": "顺丰", "waybill": "sf1001001000001"})
    stolen = push(
        erp, {"order": other.public_no, "carrier": "shunfeng", "waybill": "SF1001001000001"}
    )

    assert first.status_code == again.status_code == stolen.status_code == 200
    assert first.json()["results"][0]["outcome"] == "created"
    assert again.json()["results"][0]["outcome"] == "repeat"
    refused = stolen.json()["results"][0]
    assert refused["outcome"] == "refused"
    assert refused["reason"] == "used_on_another_order"
    assert refused["message"] == "该运单号已用于其他订单，请核对号码。"
    assert shipments(database) == [(order.id, "shunfeng", "SF1001001000001", "erp")]
    assert status(database, order.id) == OrderStatus.SHIPPED
    assert status(database, other.id) == OrderStatus.PAID


def test_lines_by_sku_fill_the_order_lines_in_order_and_a_channel_number_finds_the_order(
    erp, database
):
    lines = [NewLine("TEE-M", "T恤 M", 1, 9900), NewLine("TEE-M", "T恤 M", 2, 9900)]
    order = make_order(database, lines=[*lines, NewLine("CAP", "帽子", 1, 4900)])
    answer = push(
        erp,
        {
            "order": f"taobao:{order.channel_order_no}",
            "carrier": "zhongtong",
            "waybill": "78000000000001",
            "lines": [{"sku": "TEE-M", "quantity": 2}],
            "shipped_at": "2026-11-30T10:00:00+08:00",
        },
    )
    assert answer.json()["results"][0]["outcome"] == "created"
    with database.read() as session:
        carried = session.execute(
            select(OrderLine.sku, OrderLine.quantity, ShipmentLine.quantity)
            .join(ShipmentLine, ShipmentLine.order_line_id == OrderLine.id)
            .order_by(OrderLine.id)
        ).all()
    # 2 units over lines of 1 and 2: the first line whole, then one of the second.
    assert [tuple(row) for row in carried] == [("TEE-M", 1, 1), ("TEE-M", 2, 1)]
    assert status(database, order.id) == OrderStatus.PARTIALLY_SHIPPED


def test_a_batch_with_one_bad_parcel_records_the_others(erp, database):
    one, two = make_order(database), make_order(database)
    answer = push(
        erp,
        {
            "parcels": [
                {"order": one.public_no, "carrier": "yuantong", "waybill": "YT0000000000011"},
                {"order": "NO-SUCH-ORDER", "carrier": "yuantong", "waybill": "YT0000000000012"},
                {"order": two.public_no, "carrier": "", "waybill": "768012345678"},
                {"order": two.public_no, "carrier": "yuantong", "waybill": "YT0000000000014"},
            ]
        },
    )
    results = answer.json()["results"]
    assert [(r["outcome"], r.get("reason")) for r in results] == [
        ("created", None),
        ("refused", "unknown_order"),
        ("refused", "missing_carrier"),
        ("created", None),
    ]
    assert results[2]["message"] == "请填写快递公司。"
    assert [row[2] for row in shipments(database)] == ["YT0000000000011", "YT0000000000014"]


@pytest.mark.parametrize(
    ("secret", "age"),
    [("wrong-secret", 0), (SECRET, 301), (SECRET, -301)],
    ids=["bad signature", "stale timestamp", "far-future timestamp"],
)
def test_a_bad_or_stale_signature_is_401_and_records_nothing(erp, database, secret, age):
    order = make_order(database)
    payload = {"order": order.public_no, "carrier": "shunfeng", "waybill": "SF1001001000002"}
    assert push(erp, payload, secret=secret, age=age).status_code == 401
    assert shipments(database) == []


def test_a_missing_signature_is_401(erp, database):
    answer = erp.post("/webhooks/erp/waybills", content=b"{}", headers={"X-Portal-Timestamp": "1"})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'{"order": "X"}',
        b'{"parcels": []}',
        b'{"order": "X", "carrier": "shunfeng", "waybill": "SF1", "lines": [{"sku": "A"}]}',
        b'{"order": "X", "carrier": "shunfeng", "waybill": "SF1", "shipped_at": "yesterday"}',
        b"\xff\xfe",
    ],
)
def test_a_signed_garbage_body_is_400_and_records_nothing(erp, database, raw):
    answer = push(erp, None, raw=raw)
    assert answer.status_code == 400
    assert answer.json()["error"] == "payload"
    assert shipments(database) == []


def test_without_a_secret_the_endpoint_is_not_there(client, database):
    order = make_order(database)
    payload = {"order": order.public_no, "carrier": "shunfeng", "waybill": "SF1001001000003"}
    assert push(client, payload).status_code == 404
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Shipment)) == 0


def test_a_signed_push_gets_503_while_the_database_is_gone(settings, tmp_path):
    unreachable = Database(f"sqlite:///{tmp_path}/missing/dir/portal.db")
    app = create_app(replace(settings, erp_secret=SECRET), unreachable)
    with TestClient(app) as client:
        payload = {"order": "X1", "carrier": "shunfeng", "waybill": "SF1001001000004"}
        response = push(client, payload)
    unreachable.dispose()
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "results" not in response.json()
