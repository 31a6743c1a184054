"""Refunds in transit on split parcels: each rule looks at its own parcel; races give one."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.logistics.models import Shipment
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.orders.service import NewLine, OrderNotFound
from backend.refunds import in_transit, in_transit_staff
from backend.refunds.models import InTransitRefund, Refund
from backend.refunds.rules import RefundRules
from backend.staff.models import Role
from backend.staff.permissions import PermissionDenied
from tests.factories import make_order, ship_in_parcels
from tests.portal.test_webhooks import run_worker

CARRIER = Actor.system("carrier")
_ticks = itertools.count()
RULES = RefundRules()
TEA, CUP = "TEA-1", "CUP-1"


def split_order(database):
    """Tea (¥128) by 中通 and a cup (¥50) by 顺丰, both picked up by their carriers."""
    order = make_order(
        database,
        status=OrderStatus.PAID,
        lines=[NewLine(TEA, "西湖龙井 250g", 1, 12_800), NewLine(CUP, "茶杯", 1, 5_000)],
    )
    ship_in_parcels(
        database,
        order.id,
        [("zhongtong", "ZT75000000011", {TEA: 1}), ("shunfeng", "SF1234567890123", {CUP: 1})],
    )
    for carrier, number in (("zhongtong", "ZT75000000011"), ("shunfeng", "SF1234567890123")):
        carrier_says(database, carrier, number, TrackingStatus.IN_TRANSIT)
    return order


def carrier_says(database, carrier, number, status, code=None):
    # A second apart and coded, so no two scans share a dedupe key.
    at = utcnow() + timedelta(seconds=next(_ticks))
    event = CarrierEvent(at, status, f"{status}", raw_code=code or str(status))
    record_tracking_update(
        database, carrier, number, [event], source="test", full_history=False, actor=CARRIER
    )


def customer_of(order) -> Actor:
    return Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="portal")


def rows(database, model):
    with database.read() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def test_each_parcel_is_asked_for_with_its_own_lines_and_carrier(database, settings):
    order = split_order(database)
    ids = in_transit.request_in_transit_refund(
        database,
        customer_of(order),
        order.id,
        method="intercept",
        reason="changed_mind",
        rules=RULES,
    )
    assert len(ids) == 2
    tea, cup = rows(database, InTransitRefund)
    assert (tea.amount_fen, tea.status) == (12_800, "intercept_asked")
    # SF is phoned by a person: its request starts in the staff queue.
    assert (cup.amount_fen, cup.status, cup.carrier_note) == (
        5_000,
        "intercept_failed",
        "电话联系承运商",
    )
    assert [row.id for row in in_transit_staff.list_queue(database)] == [cup.id]


def test_the_delivered_parcel_closes_its_request_and_the_returning_one_refunds_only_its_lines(
    database, settings
):
    order = split_order(database)
    in_transit.request_in_transit_refund(
        database,
        customer_of(order),
        order.id,
        method="refuse",
        reason="changed_mind",
        rules=RULES,
    )
    carrier_says(database, "zhongtong", "ZT75000000011", TrackingStatus.DELIVERED)
    carrier_says(database, "shunfeng", "SF1234567890123", TrackingStatus.RETURNING, "631")
    run_worker(database, settings)
    tea, cup = rows(database, InTransitRefund)
    assert tea.status == "cancelled" and tea.refund_id is None
    assert cup.status in ("refunding", "refund_failed")
    [refund] = rows(database, Refund)
    assert (refund.id, refund.amount_fen) == (cup.refund_id, 5_000)
    with database.read() as session:
        assert session.get(Order, order.id).status != OrderStatus.REFUNDED


def test_a_delivered_parcel_or_one_asked_already_is_refused_and_nothing_is_written(
    database, settings
):
    order = split_order(database)
    tea_parcel, cup_parcel = [s.id for s in _shipments(database, order.id)]
    carrier_says(database, "zhongtong", "ZT75000000011", TrackingStatus.DELIVERED)
    with pytest.raises(in_transit.InTransitNotAllowed) as refused:
        in_transit.request_in_transit_refund(
            database,
            customer_of(order),
            order.id,
            method="refuse",
            reason="changed_mind",
            rules=RULES,
            shipment_ids=[tea_parcel],
        )
    assert refused.value.code == "delivered"
    in_transit.request_in_transit_refund(
        database,
        customer_of(order),
        order.id,
        method="refuse",
        reason="changed_mind",
        rules=RULES,
        shipment_ids=[cup_parcel],
    )
    with pytest.raises(in_transit.InTransitNotAllowed) as again:
        in_transit.request_in_transit_refund(
            database,
            customer_of(order),
            order.id,
            method="intercept",
            reason="changed_mind",
            rules=RULES,
            shipment_ids=[cup_parcel],
        )
    assert again.value.code == "already_asked"
    assert len(rows(database, InTransitRefund)) == 1


def test_another_customer_or_a_warehouse_role_can_not_ask(database, settings):
    order = split_order(database)
    stranger = Actor(ActorKind.CUSTOMER, "customer:00000000000000")
    warehouse = Actor(ActorKind.STAFF, "w", role=Role.WAREHOUSE)
    with pytest.raises(OrderNotFound):
        in_transit.request_in_transit_refund(
            database, stranger, order.id, method="refuse", reason="changed_mind", rules=RULES
        )
    with pytest.raises(PermissionDenied):
        in_transit.request_in_transit_refund(
            database, warehouse, order.id, method="refuse", reason="changed_mind", rules=RULES
        )
    assert rows(database, InTransitRefund) == []


def test_two_requests_at_once_for_the_same_parcel_make_one(database, settings):
    order = split_order(database)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def ask() -> None:
        start.wait()
        try:
            in_transit.request_in_transit_refund(
                database,
                customer_of(order),
                order.id,
                method="refuse",
                reason="changed_mind",
                rules=RULES,
            )
            outcomes.append("asked")
        except in_transit.InTransitNotAllowed as refused:
            outcomes.append(refused.code)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["asked", "nothing_on_the_road"]
    assert len(rows(database, InTransitRefund)) == 2  # one per parcel, once


def _shipments(database, order_id):
    with database.read() as session:
        return list(
            session.scalars(
                select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)
            )
        )
