"""The exceptions queue: not picked up, stalled, problems, and carriers gone quiet."""

from datetime import timedelta

from sqlalchemy import update

from backend.clock import utcnow
from backend.logistics.alerts import AlertKind, list_alerts
from backend.logistics.models import Shipment
from backend.logistics.status import TrackingStatus
from backend.orders.lifecycle import OrderStatus
from tests.factories import SYSTEM, create_shipment, make_order


def shipment(database, number, **values):
    order = make_order(database, status=OrderStatus.PACKED)
    shipment_id = create_shipment(database, order.id, "yunda", number, SYSTEM)
    with database.write() as session:
        session.execute(update(Shipment).where(Shipment.id == shipment_id).values(**values))
    return order


def test_each_kind_of_trouble_lands_in_the_queue_and_healthy_parcels_do_not(database):
    now = utcnow()
    fresh = shipment(database, "YD1", label_created_at=now - timedelta(hours=2))
    unpicked = shipment(database, "YD2", label_created_at=now - timedelta(hours=30))
    stalled = shipment(
        database,
        "YD3",
        status=TrackingStatus.IN_TRANSIT,
        last_event_at=now - timedelta(hours=50),
        last_synced_at=now,
    )
    problem = shipment(
        database,
        "YD4",
        status=TrackingStatus.FAILED_ATTEMPT,
        last_event_at=now - timedelta(hours=1),
        last_synced_at=now,
    )
    moving = shipment(
        database,
        "YD5",
        status=TrackingStatus.IN_TRANSIT,
        last_event_at=now - timedelta(hours=3),
        last_synced_at=now,
    )
    kinds = {(a.kind, a.public_no) for a in list_alerts(database, now)}
    assert (AlertKind.NOT_PICKED_UP, unpicked.public_no) in kinds
    assert (AlertKind.STALLED, stalled.public_no) in kinds
    assert (AlertKind.PROBLEM, problem.public_no) in kinds
    listed = {public_no for _kind, public_no in kinds}
    assert fresh.public_no not in listed and moving.public_no not in listed


def test_a_carrier_that_stopped_pushing_is_flagged(database):
    now = utcnow()
    shipment(
        database,
        "YD9",
        status=TrackingStatus.IN_TRANSIT,
        last_synced_at=now - timedelta(hours=7),
        last_event_at=now - timedelta(hours=7),
    )
    silent = [a for a in list_alerts(database, now) if a.kind == AlertKind.CARRIER_SILENT]
    assert [a.carrier_code for a in silent] == ["yunda"]
