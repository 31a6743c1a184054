"""Return parcels: the carrier's word releases the refund (at delivery, or at pickup if fast)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.clock import utcnow
from backend.jobs.worker import Worker
from backend.logistics.service import RETURN_PARCEL_MOVED, record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.lifecycle import OrderStatus
from backend.refunds import return_parcels, service
from backend.refunds.models import Refund, ReturnRequest
from backend.refunds.rules import RefundRules, RefundType
from tests.factories import SYSTEM, make_order


def filed_and_sent(database, number):
    order = make_order(database, status=OrderStatus.DELIVERED)
    with database.read() as session:
        from backend.orders.models import OrderLine

        line_id = session.scalar(select(OrderLine.id).where(OrderLine.order_id == order.id))
    filed = service.file_return(
        database,
        order.id,
        order.customer_id,
        {line_id: 1},
        RefundType.RETURN_AND_REFUND,
        "no_reason_7_days",
        "",
        [],
        RefundRules(),
        SYSTEM,
    )
    return_parcels.send_back(
        database, filed.return_id, order.customer_id, "yuantong", number, SYSTEM
    )
    return filed.return_id


def carrier_says(database, number, status, fast):
    record_tracking_update(
        database,
        "yuantong",
        number,
        [CarrierEvent(utcnow() - timedelta(minutes=1), status, "快件更新", str(status))],
        source="test",
        full_history=False,
        actor=SYSTEM,
    )
    Worker(
        database, {RETURN_PARCEL_MOVED: lambda db, p: return_parcels.on_return_parcel(db, p, fast)}
    ).run_until_idle()


def state(database, return_id):
    with database.read() as session:
        request = session.get(ReturnRequest, return_id)
        refunds = session.scalars(select(Refund.amount_fen).where(Refund.return_id == return_id))
        return request.status, list(refunds)


@pytest.mark.parametrize("fast", [False, True])
def test_delivery_back_to_the_warehouse_releases_the_refund_once(database, fast):
    return_id = filed_and_sent(database, "YT9000000001")
    carrier_says(database, "YT9000000001", TrackingStatus.PICKED_UP, fast)
    expected_after_pickup = ("refunding", [12_800]) if fast else ("parcel_in_transit", [])
    assert state(database, return_id) == expected_after_pickup
    carrier_says(database, "YT9000000001", TrackingStatus.DELIVERED, fast)
    assert state(database, return_id) == ("refunding", [12_800])


def test_a_request_staff_approved_waits_for_the_parcel_even_when_fast(database):
    return_id = filed_and_sent(database, "YT9000000002")
    with database.write() as session:
        session.get(ReturnRequest, return_id).decided_by = "staff:小王"
    carrier_says(database, "YT9000000002", TrackingStatus.IN_TRANSIT, True)
    assert state(database, return_id) == ("parcel_in_transit", [])
