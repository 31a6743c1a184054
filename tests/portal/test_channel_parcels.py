"""Parcels the platform or a 3PL shipped, arriving with a channel's order update over HTTP:
recorded once as a channel parcel, tracking queued; an unknown carrier is only noted."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.fulfilment.channel_parcels import CHANNEL_PARCELS, record_channel_parcels
from backend.jobs.models import Job, JobStatus
from backend.logistics.models import Shipment, ShipmentLine
from backend.logistics.service import SUBSCRIBE
from backend.orders import channel_webhooks
from backend.orders.inventory import save_sku
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from tests.backend.orders.channels.recorded import load_payload
from tests.factories import SYSTEM
from tests.portal.test_channel_webhooks import SIGNERS, post_shopify


def run_intake(database, settings):
    """Intake and the parcels it queues; tracking and notices stay queued, to be looked at."""
    handlers = {
        channel_webhooks.INGEST: lambda db, p: channel_webhooks.ingest_delivery(
            db, p, settings.rules.intake
        ),
        CHANNEL_PARCELS: record_channel_parcels,
    }
    # The due jobs of these kinds in order, as the worker runs them; the rest stay queued.
    while True:
        with database.read() as session:
            job = session.scalars(
                select(Job)
                .where(Job.kind.in_(list(handlers)), Job.status == JobStatus.PENDING)
                .order_by(Job.id)
                .limit(1)
            ).first()
        if job is None:
            return
        handlers[job.kind](database, dict(job.payload))
        with database.write() as session:
            session.get(Job, job.id).status = JobStatus.DONE


def shipments(database):
    with database.read() as session:
        rows = session.execute(
            select(Shipment.order_id, Shipment.carrier_code, Shipment.tracking_no, Shipment.source)
        )
        return [tuple(row) for row in rows]


def jobs_of(database, kind):
    with database.read() as session:
        return [job.payload for job in session.scalars(select(Job).where(Job.kind == kind))]


def order_status(database):
    with database.read() as session:
        return session.scalars(select(Order.status)).one()


def shopify_update(updated_at: str) -> bytes:
    payload = load_payload("shopify", "normal")
    payload["updated_at"] = updated_at
    payload["fulfillment_status"] = "fulfilled"
    payload["fulfillments"] = [
        {
            "id": 4903,
            "status": "success",
            "tracking_company": "SF Express",
            "tracking_number": "SF1234567890123",
            "tracking_numbers": ["SF1234567890123"],
            "line_items": [{"id": 866550311766439020, "sku": "TS-01", "quantity": 1}],
        },
        {"id": 4904, "status": "cancelled", "tracking_number": "SF9999999999999"},
    ]
    return json.dumps(payload).encode()


def test_a_shopify_fulfillment_becomes_one_parcel_and_again_changes_nothing(
    client, database, settings
):
    save_sku(database, "TS-01", "T恤", 10, 5000, SYSTEM)
    post_shopify(client, json.dumps(load_payload("shopify", "normal")).encode(), event="e1")
    run_intake(database, settings)
    assert order_status(database) == OrderStatus.PAID and shipments(database) == []

    update = shopify_update("2024-05-02T09:00:00+08:00")
    assert post_shopify(client, update, event="e2").status_code == 200
    run_intake(database, settings)
    with database.read() as session:
        order_id = session.scalars(select(Order.id)).one()
        carried = session.scalars(select(ShipmentLine.quantity)).all()
    assert shipments(database) == [(order_id, "shunfeng", "SF1234567890123", "channel")]
    assert carried == [1]
    assert order_status(database) == OrderStatus.SHIPPED
    [shipment_id] = [s["shipment_id"] for s in jobs_of(database, SUBSCRIBE)]
    # The platform shipped it: nothing to confirm back to the channel.
    assert jobs_of(database, "channel.confirm_shipment") == []

    post_shopify(client, update, event="e3")  # the same update, delivered again
    post_shopify(client, shopify_update("2024-05-02T10:00:00+08:00"), event="e4")  # newer
    run_intake(database, settings)
    assert shipments(database) == [(order_id, "shunfeng", "SF1234567890123", "channel")]
    assert [s["shipment_id"] for s in jobs_of(database, SUBSCRIBE)] == [shipment_id]


def post_pinduoduo(client, payload):
    sign, field = SIGNERS["pinduoduo"]
    params = {
        "app_key": "demo",
        "timestamp": "2026-11-22 12:00:00",
        "sign_method": "md5",
        field: json.dumps(payload, ensure_ascii=False),
    }
    return client.post("/webhooks/channels/pinduoduo", data={**params, "sign": sign(params)})


@pytest.fixture
def pdd_shipped():
    payload = load_payload("pinduoduo", "update")  # order_status 2 with a tracking_number
    payload["logistics_id"] = 121
    return payload


def test_a_marketplace_push_with_its_waybill_records_the_parcel_once(
    client, database, settings, pdd_shipped
):
    save_sku(database, "SOCK-3P", "棉袜三双装", 10, 1000, SYSTEM)
    assert post_pinduoduo(client, pdd_shipped).status_code == 200
    run_intake(database, settings)
    with database.read() as session:
        order_id = session.scalars(select(Order.id)).one()
    assert shipments(database) == [(order_id, "yunda", "YT0000000000001", "channel")]
    assert order_status(database) == OrderStatus.SHIPPED
    assert len(jobs_of(database, SUBSCRIBE)) == 1

    pdd_shipped["updated_at"] = "2024-05-02 09:00:00"
    post_pinduoduo(client, pdd_shipped)
    run_intake(database, settings)
    assert len(shipments(database)) == 1 and len(jobs_of(database, SUBSCRIBE)) == 1


def test_a_carrier_outside_the_table_is_noted_on_the_event_and_never_guessed(
    client, database, settings, pdd_shipped
):
    save_sku(database, "SOCK-3P", "棉袜三双装", 10, 1000, SYSTEM)
    pdd_shipped["logistics_id"] = 999
    post_pinduoduo(client, pdd_shipped)
    run_intake(database, settings)
    with database.read() as session:
        noted = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "channel.parcel_skipped")
        ).one()
    assert noted.subject == "channel_event"
    assert noted.after == {"carrier": "999", "tracking_no": "YT0000000000001"}
    assert shipments(database) == [] and jobs_of(database, CHANNEL_PARCELS) == []
    assert order_status(database) == OrderStatus.PAID


def test_a_held_order_keeps_its_channel_parcel_out_and_says_why(
    client, database, settings, pdd_shipped
):
    # No SKU SOCK-3P: the order is held (unknown SKU), and a held order ships nothing.
    post_pinduoduo(client, pdd_shipped)
    run_intake(database, settings)
    with database.read() as session:
        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "channel.parcel_refused")
        ).one()
    assert refused.after["reason"] == "on_hold"
    assert shipments(database) == []
