"""Merging carrier events into one timeline: order by time, duplicates dropped, delivery sticks."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.logistics.models import Shipment, TrackingEvent
from backend.logistics.service import ShipmentNotFound, record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import (
    FUTURE_TOLERANCE,
    CarrierEvent,
    dedupe_key,
    fold_status,
    is_future_dated,
)
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from tests.factories import make_order

T = TrackingStatus
CARRIER = Actor(ActorKind.CARRIER, "sandbox")
BASE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def event(hours: float, status: TrackingStatus, code: str = "x", where: str = "杭州市"):
    return CarrierEvent(BASE + timedelta(hours=hours), status, f"{status} 描述", code, where)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], T.PENDING),
        ([event(0, T.PICKED_UP), event(2, T.IN_TRANSIT)], T.IN_TRANSIT),
        ([event(2, T.IN_TRANSIT), event(0, T.PICKED_UP)], T.IN_TRANSIT),
        ([event(0, T.IN_TRANSIT), event(5, T.DELIVERED), event(6, T.IN_TRANSIT)], T.DELIVERED),
        ([event(5, T.DELIVERED), event(6, T.EXCEPTION)], T.DELIVERED),
        ([event(5, T.DELIVERED), event(7, T.RETURNING)], T.RETURNING),
        ([event(5, T.RETURNING), event(9, T.RETURNED), event(10, T.IN_TRANSIT)], T.RETURNED),
        ([event(1, T.IN_TRANSIT), event(2, T.UNKNOWN)], T.IN_TRANSIT),
        ([event(1, T.UNKNOWN)], T.UNKNOWN),
        ([event(1, T.CANCELLED), event(3, T.DELIVERED)], T.CANCELLED),
        ([event(1, T.OUT_FOR_DELIVERY), event(2, T.FAILED_ATTEMPT)], T.FAILED_ATTEMPT),
    ],
)
def test_status_follows_the_latest_event_by_time_with_delivery_sticking(events, expected):
    assert fold_status(events) is expected


def test_the_dedupe_key_ignores_the_text_but_not_time_code_or_place():
    a = event(1, T.IN_TRANSIT)
    same = CarrierEvent(a.occurred_at, a.status, "different wording", a.raw_code, a.location)
    assert dedupe_key("sf", "1", a) == dedupe_key("sf", "1", same)
    for other in (
        event(2, T.IN_TRANSIT),
        event(1, T.IN_TRANSIT, code="y"),
        event(1, T.IN_TRANSIT, where="上海市"),
    ):
        assert dedupe_key("sf", "1", a) != dedupe_key("sf", "1", other)
    assert dedupe_key("sf", "1", a) != dedupe_key("sf", "2", a)


def shipped(database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    with database.read() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.order_id == order.id)).one()
    return order, shipment


def update(database, shipment, events, full=False):
    return record_tracking_update(
        database,
        shipment.carrier_code,
        shipment.tracking_no,
        events,
        source="sandbox",
        full_history=full,
        actor=CARRIER,
    )


def stored(database, shipment_id):
    with database.read() as session:
        return session.scalar(
            select(func.count())
            .select_from(TrackingEvent)
            .where(TrackingEvent.shipment_id == shipment_id)
        )


def test_the_same_push_twice_changes_nothing(database):
    _, shipment = shipped(database)
    events = [event(0, T.PICKED_UP), event(3, T.IN_TRANSIT)]
    first = update(database, shipment, events)
    second = update(database, shipment, events)
    assert (first.added, first.changed) == (2, True)
    assert (second.added, second.removed, second.changed) == (0, 0, False)
    assert stored(database, shipment.id) == 2


def test_incremental_pushes_merge_and_out_of_order_ones_do_not_regress(database):
    _, shipment = shipped(database)
    update(database, shipment, [event(0, T.PICKED_UP), event(5, T.OUT_FOR_DELIVERY)])
    late = update(database, shipment, [event(3, T.IN_TRANSIT)])
    assert late.added == 1
    assert late.status_after is T.OUT_FOR_DELIVERY
    assert stored(database, shipment.id) == 3


def test_a_full_history_push_replaces_what_the_carrier_no_longer_lists(database):
    _, shipment = shipped(database)
    update(
        database, shipment, [event(0, T.PICKED_UP), event(1, T.EXCEPTION, code="bad")], full=True
    )
    result = update(database, shipment, [event(0, T.PICKED_UP), event(2, T.IN_TRANSIT)], full=True)
    assert (result.added, result.removed, result.status_after) == (1, 1, T.IN_TRANSIT)
    assert stored(database, shipment.id) == 2


def test_delivery_delivers_the_order_once_and_is_audited(database):
    order, shipment = shipped(database)
    update(database, shipment, [event(0, T.PICKED_UP), event(9, T.DELIVERED)])
    update(database, shipment, [event(10, T.IN_TRANSIT)])
    with database.read() as session:
        current = session.get(Order, order.id)
        delivered = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.order_id == order.id, AuditEvent.action == "order.deliver")
        )
        reloaded = session.get(Shipment, shipment.id)
    assert current.status == OrderStatus.DELIVERED
    assert current.delivered_at == BASE + timedelta(hours=9)
    assert delivered == 1
    assert reloaded.status == T.DELIVERED
    assert reloaded.picked_up_at == BASE


def test_an_update_for_an_unknown_waybill_stores_nothing(database):
    with pytest.raises(ShipmentNotFound):
        record_tracking_update(
            database,
            "sandbox",
            "NOPE",
            [event(0, T.PICKED_UP)],
            source="sandbox",
            full_history=False,
            actor=CARRIER,
        )
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(TrackingEvent)) == 0


def test_carrier_clock_skew_within_the_tolerance_is_accepted():
    now = utcnow()
    assert not is_future_dated(now + FUTURE_TOLERANCE, now)
    assert is_future_dated(now + FUTURE_TOLERANCE + timedelta(seconds=1), now)
    assert not is_future_dated(now - timedelta(days=3), now)
