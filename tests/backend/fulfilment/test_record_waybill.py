"""Recording waybills: parcels with lines, the order following them, repeats and refusals.

Each step goes through the service and reads the result back in a fresh session.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.fulfilment.waybills import (
    CONFIRM_SHIPMENT,
    Refusal,
    WaybillRefused,
    WaybillSource,
    record_waybill,
)
from backend.jobs.models import Job
from backend.logistics.models import Shipment, ShipmentLine
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.notifications.models import Notification, NotificationEvent
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, OrderLine, SalesChannel
from backend.orders.service import NewLine
from backend.staff.models import Role
from backend.staff.permissions import PermissionDenied
from tests.factories import SYSTEM, make_order

WAREHOUSE = Actor(ActorKind.STAFF, "li@shop", role=Role.WAREHOUSE)
SUPPORT = Actor(ActorKind.STAFF, "wang@shop", role=Role.SUPPORT)
TWO_LINES = [NewLine("TEE-M", "T恤 M", 2, 9900), NewLine("CAP", "帽子", 1, 4900)]


def _lines(database, order_id):
    with database.read() as session:
        rows = session.execute(
            select(OrderLine.sku, OrderLine.id).where(OrderLine.order_id == order_id)
        )
        return {sku: line_id for sku, line_id in rows}


def _status(database, order_id) -> OrderStatus:
    with database.read() as session:
        return session.scalar(select(Order.status).where(Order.id == order_id))


def _deliver(database, carrier, number):
    from backend.clock import utcnow

    event = CarrierEvent(utcnow(), TrackingStatus.DELIVERED, "已签收", "3")
    record_tracking_update(
        database, carrier, number, [event], source="test", full_history=False, actor=SYSTEM
    )


def test_two_parcels_move_the_order_to_partly_shipped_then_shipped_then_delivered(database):
    order = make_order(database, lines=TWO_LINES)
    line = _lines(database, order.id)
    first = record_waybill(
        database,
        order.id,
        "shunfeng",
        "sf1234567890123",
        WAREHOUSE,
        source=WaybillSource.MANUAL,
        lines={line["TEE-M"]: 2},
    )
    assert first.created
    assert _status(database, order.id) == OrderStatus.PARTIALLY_SHIPPED
    second = record_waybill(
        database, order.id, "zhongtong", "773012345678901", WAREHOUSE, source=WaybillSource.MANUAL
    )
    assert _status(database, order.id) == OrderStatus.SHIPPED
    with database.read() as session:
        carried = session.execute(
            select(
                ShipmentLine.shipment_id, ShipmentLine.order_line_id, ShipmentLine.quantity
            ).order_by(ShipmentLine.shipment_id)
        ).all()
        stored = session.get(Shipment, first.shipment_id)
        assert stored is not None and stored.tracking_no == "SF1234567890123"
        assert stored.source == "manual" and stored.shipped_at is not None
    assert [tuple(row) for row in carried] == [
        (first.shipment_id, line["TEE-M"], 2),
        (second.shipment_id, line["CAP"], 1),
    ]
    _deliver(database, "shunfeng", "SF1234567890123")
    assert _status(database, order.id) == OrderStatus.SHIPPED  # one parcel still travelling
    _deliver(database, "zhongtong", "773012345678901")
    assert _status(database, order.id) == OrderStatus.DELIVERED


def test_the_same_waybill_twice_is_a_no_op_and_on_another_order_is_refused(database):
    order, other = make_order(database), make_order(database, phone="13900139000")
    first = record_waybill(
        database, order.id, "yuantong", "YT1234567890123", WAREHOUSE, source=WaybillSource.MANUAL
    )
    again = record_waybill(
        database, order.id, "yuantong", "yt 1234567890123", WAREHOUSE, source=WaybillSource.IMPORT
    )
    assert (again.created, again.shipment_id) == (False, first.shipment_id)
    with pytest.raises(WaybillRefused) as refused:
        record_waybill(
            database, other.id, "yuantong", "YT1234567890123", SYSTEM, source=WaybillSource.ERP
        )
    assert refused.value.reason == Refusal.USED_ON_ANOTHER_ORDER
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Shipment)) == 1
        recorded = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "shipment.recorded")
        )
        confirmations = session.scalars(select(Job.payload).where(Job.kind == CONFIRM_SHIPMENT))
        assert recorded == 1
        assert list(confirmations) == [{"shipment_id": first.shipment_id}]
    assert _status(database, other.id) == OrderStatus.PAID


@pytest.mark.parametrize(
    ("carrier", "number", "reason"),
    [
        ("nosuchcarrier", "SF1234567890123", Refusal.UNKNOWN_CARRIER),
        ("shunfeng", "12", Refusal.BAD_NUMBER),
        ("shunfeng", "SF12345<script>", Refusal.BAD_NUMBER),
        ("shunfeng", "YT1234567890123", Refusal.NOT_THIS_CARRIERS),
        ("", "768012345678", Refusal.UNKNOWN_CARRIER),  # 中通 or 申通: the number can't say
    ],
)
def test_unknown_carriers_and_malformed_numbers_are_refused_before_anything_is_written(
    database, carrier, number, reason
):
    order = make_order(database)
    with pytest.raises(WaybillRefused) as refused:
        record_waybill(database, order.id, carrier, number, WAREHOUSE, source=WaybillSource.MANUAL)
    assert refused.value.reason == reason
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Shipment)) == 0


def test_more_units_than_are_left_and_a_line_of_another_order_are_refused(database):
    order, other = make_order(database, lines=TWO_LINES), make_order(database, phone="13700137000")
    line, foreign = _lines(database, order.id), _lines(database, other.id)
    for lines in ({line["TEE-M"]: 3}, {next(iter(foreign.values())): 1}, {line["CAP"]: -1}):
        with pytest.raises(WaybillRefused) as refused:
            record_waybill(
                database,
                order.id,
                "shunfeng",
                "SF1234567890123",
                WAREHOUSE,
                source=WaybillSource.MANUAL,
                lines=lines,
            )
        assert refused.value.reason == Refusal.BAD_LINES
    record_waybill(
        database, order.id, "shunfeng", "SF1234567890123", WAREHOUSE, source=WaybillSource.MANUAL
    )
    with pytest.raises(WaybillRefused) as refused:
        record_waybill(
            database,
            order.id,
            "shunfeng",
            "SF1234567890999",
            WAREHOUSE,
            source=WaybillSource.MANUAL,
        )
    assert refused.value.reason == Refusal.NOT_SHIPPABLE  # shipped in full already


@pytest.mark.parametrize("status", [OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED])
def test_unpaid_and_cancelled_orders_take_no_waybill(database, status):
    order = make_order(database, status=status)
    with pytest.raises(WaybillRefused) as refused:
        record_waybill(
            database,
            order.id,
            "shunfeng",
            "SF1234567890123",
            WAREHOUSE,
            source=WaybillSource.MANUAL,
        )
    assert (refused.value.reason, refused.value.status) == (Refusal.NOT_SHIPPABLE, status)


def test_support_may_not_record_waybills(database):
    order = make_order(database)
    with pytest.raises(PermissionDenied):
        record_waybill(
            database, order.id, "shunfeng", "SF1234567890123", SUPPORT, source=WaybillSource.MANUAL
        )


def test_orders_taken_by_hand_are_not_confirmed_to_any_channel_and_a_channel_waybill_neither(
    database,
):
    manual = make_order(database, channel=SalesChannel.MANUAL)
    shopify = make_order(database, channel=SalesChannel.SHOPIFY, phone="13600136000")
    record_waybill(
        database, manual.id, "shunfeng", "SF1234567890123", WAREHOUSE, source=WaybillSource.MANUAL
    )
    record_waybill(
        database, shopify.id, "shunfeng", "SF1234567890124", SYSTEM, source=WaybillSource.CHANNEL
    )
    with database.read() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Job).where(Job.kind == CONFIRM_SHIPMENT)
            )
            == 0
        )


def test_parcels_leaving_together_make_one_shipped_message_that_counts_them(database):
    order = make_order(database, lines=TWO_LINES)
    line = _lines(database, order.id)
    for number, lines in (("SF1234567890123", {line["TEE-M"]: 2}), ("SF1234567890124", None)):
        record_waybill(
            database,
            order.id,
            "shunfeng",
            number,
            WAREHOUSE,
            source=WaybillSource.MANUAL,
            lines=lines,
        )
    with database.read() as session:
        notices = session.scalars(
            select(Notification).where(
                Notification.order_id == order.id,
                Notification.event == NotificationEvent.SHIPPED,
            )
        ).all()
    assert {notice.channel for notice in notices} == {"sms"}
    assert [notice.params["parcels"] for notice in notices] == ["2"]


def test_an_unnamed_carrier_is_taken_from_a_number_only_it_uses(database):
    order = make_order(database)
    record_waybill(
        database, order.id, "", "sf1234567890123", WAREHOUSE, source=WaybillSource.MANUAL
    )
    with database.read() as session:
        assert session.scalars(select(Shipment.carrier_code)).one() == "shunfeng"
