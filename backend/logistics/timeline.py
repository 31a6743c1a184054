"""Pure timeline rules: event identity, and the shipment status a set of events implies."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.logistics.status import AFTER_DELIVERY_ALLOWED, TrackingStatus

_FINAL = frozenset({TrackingStatus.RETURNED, TrackingStatus.CANCELLED})

# Carrier clocks and couriers' handhelds drift by minutes, and a scan may reach us a moment
# before our own clock passes it; a quarter of an hour covers that. An event dated further
# ahead has not happened (a wrong date typed in, a time zone slip): it is kept, marked, and
# never moves the parcel.
FUTURE_TOLERANCE = timedelta(minutes=15)


@dataclass(frozen=True)
class CarrierEvent:
    """One normalized event as an adapter hands it over, raw code and text kept."""

    occurred_at: datetime
    status: TrackingStatus
    description: str
    raw_code: str | None = None
    location: str | None = None


def dedupe_key(carrier_code: str, tracking_no: str, event: CarrierEvent) -> str:
    """Carriers resend; (carrier, number, time, code, location) names an event once."""
    parts = (
        carrier_code,
        tracking_no,
        event.occurred_at.isoformat(timespec="seconds"),
        event.raw_code or "",
        (event.location or "").strip(),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def is_future_dated(occurred_at: datetime, received_at: datetime) -> bool:
    """Whether an event claims a time that had not come when we received it."""
    return occurred_at > received_at + FUTURE_TOLERANCE


def fold_status(events: Iterable[CarrierEvent]) -> TrackingStatus:
    """The status implied by the events in time order, not the order they arrived in.

    After delivery only a return may follow, and a returned or cancelled parcel stays so.
    """
    status = TrackingStatus.PENDING
    for event in sorted(events, key=lambda e: e.occurred_at):
        if status in _FINAL:
            break
        if status == TrackingStatus.DELIVERED and event.status not in AFTER_DELIVERY_ALLOWED:
            continue
        if event.status == TrackingStatus.UNKNOWN and status != TrackingStatus.PENDING:
            # An unmapped code tells us something happened, not that the parcel went backwards.
            continue
        status = event.status
    return status


def first_time(
    events: Iterable[CarrierEvent], wanted: frozenset[TrackingStatus]
) -> datetime | None:
    times = [e.occurred_at for e in events if e.status in wanted]
    return min(times) if times else None
