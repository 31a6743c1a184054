"""The logistics exceptions queue: parcels that stall, and carriers that have gone quiet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select

from backend.clock import utcnow
from backend.db import Database
from backend.logistics.models import Shipment, ShipmentDirection
from backend.logistics.service import INTERNAL_CARRIERS
from backend.logistics.status import TERMINAL_TRACKING_STATUSES, TrackingStatus
from backend.orders.models import Order

NOT_PICKED_UP_AFTER = timedelta(hours=24)
STALLED_AFTER = timedelta(hours=48)
CARRIER_SILENT_AFTER = timedelta(hours=6)
PROBLEM_STATUSES = (
    TrackingStatus.EXCEPTION,
    TrackingStatus.FAILED_ATTEMPT,
    TrackingStatus.RETURNING,
)


class AlertKind(StrEnum):
    NOT_PICKED_UP = "not_picked_up"  # label printed, no carrier scan within a day
    STALLED = "stalled"  # no tracking update for two days
    PROBLEM = "problem"  # exception, failed attempt or on its way back
    CARRIER_SILENT = "carrier_silent"  # a carrier with parcels out has pushed nothing lately


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    since: datetime
    order_id: int | None = None
    public_no: str | None = None
    carrier_code: str = ""
    tracking_no: str = ""
    status: TrackingStatus | None = None

    def age(self, now: datetime) -> timedelta:
        return now - self.since


def _shipment_alerts(database: Database, now: datetime) -> list[Alert]:
    open_statuses = [str(s) for s in TERMINAL_TRACKING_STATUSES]
    base = (
        select(
            Shipment.order_id,
            Order.public_no,
            Shipment.carrier_code,
            Shipment.tracking_no,
            Shipment.status,
            Shipment.label_created_at,
            Shipment.last_event_at,
        )
        .join(Order, Order.id == Shipment.order_id)
        .where(
            Shipment.direction == ShipmentDirection.OUTBOUND, Shipment.status.not_in(open_statuses)
        )
    )
    alerts: list[Alert] = []
    with database.read() as session:
        for row in session.execute(base):
            kind, since = _classify(row.status, row.label_created_at, row.last_event_at, now)
            if kind is not None:
                alerts.append(
                    Alert(
                        kind,
                        since,
                        row.order_id,
                        row.public_no,
                        row.carrier_code,
                        row.tracking_no,
                        TrackingStatus(row.status),
                    )
                )
    return alerts


def _classify(
    status: str, created: datetime, last_event: datetime | None, now: datetime
) -> tuple[AlertKind | None, datetime]:
    if status in PROBLEM_STATUSES:
        return AlertKind.PROBLEM, last_event or created
    if status in (TrackingStatus.PENDING, TrackingStatus.INFO_RECEIVED):
        if created < now - NOT_PICKED_UP_AFTER:
            return AlertKind.NOT_PICKED_UP, created
        return None, created
    latest = last_event or created
    if latest < now - STALLED_AFTER:
        return AlertKind.STALLED, latest
    return None, latest


def _silent_carriers(database: Database, now: datetime) -> list[Alert]:
    """Carriers with parcels on the road whose last push is older than the quiet limit."""
    with database.read() as session:
        active = session.execute(
            select(Shipment.carrier_code, func.max(Shipment.last_synced_at))
            .where(
                Shipment.status.not_in([str(s) for s in TERMINAL_TRACKING_STATUSES]),
                Shipment.carrier_code.not_in(sorted(INTERNAL_CARRIERS)),
            )
            .group_by(Shipment.carrier_code)
        ).all()
    return [
        Alert(AlertKind.CARRIER_SILENT, heard, carrier_code=carrier)
        for carrier, heard in active
        if heard is not None and heard < now - CARRIER_SILENT_AFTER
    ]


def list_alerts(database: Database, now: datetime | None = None) -> list[Alert]:
    """Everything staff should look at, oldest problem first."""
    now = now or utcnow()
    alerts = _shipment_alerts(database, now) + _silent_carriers(database, now)
    return sorted(alerts, key=lambda alert: alert.since)
