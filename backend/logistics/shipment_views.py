"""Shipments with their tracking events as frozen views: one query, for customer and staff pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from backend.logistics.models import Shipment, ShipmentDirection, TrackingEvent
from backend.logistics.status import TERMINAL_TRACKING_STATUSES, TrackingStatus


@dataclass(frozen=True)
class EventView:
    occurred_at: datetime
    status: TrackingStatus
    description: str
    location: str | None
    raw_code: str | None
    future_dated: bool = False  # shown to staff only (see timeline.is_future_dated)


@dataclass(frozen=True)
class ShipmentView:
    id: int
    direction: ShipmentDirection
    carrier_code: str  # shown by the portal in the page's language
    tracking_no: str
    status: TrackingStatus
    last_event_at: datetime | None
    last_synced_at: datetime | None
    estimated_earliest: date | None
    estimated_latest: date | None
    events: tuple[EventView, ...]
    label_created_at: datetime | None = None
    shipped_at: datetime | None = None  # when the parcel left; None while it waits for pickup
    voided_at: datetime | None = None  # a voided label carries nothing and is not shown

    @property
    def journey_ended(self) -> bool:
        return self.status in TERMINAL_TRACKING_STATUSES

    @property
    def estimate(self) -> tuple[date, date] | None:
        """The delivery window to promise; none once the parcel's journey has ended."""
        if self.journey_ended or self.estimated_earliest is None:
            return None
        return self.estimated_earliest, self.estimated_latest or self.estimated_earliest


_SHIPMENTS_WITH_EVENTS = (
    select(
        Shipment.id,
        Shipment.direction,
        Shipment.carrier_code,
        Shipment.tracking_no,
        Shipment.status,
        Shipment.last_event_at,
        Shipment.last_synced_at,
        Shipment.estimated_earliest,
        Shipment.estimated_latest,
        Shipment.label_created_at,
        Shipment.shipped_at,
        Shipment.voided_at,
        TrackingEvent.occurred_at,
        TrackingEvent.status.label("event_status"),
        TrackingEvent.description,
        TrackingEvent.location,
        TrackingEvent.raw_code,
        TrackingEvent.future_dated,
    )
    .outerjoin(TrackingEvent, TrackingEvent.shipment_id == Shipment.id)
    .where(Shipment.order_id == bindparam("order_id"))
    .order_by(Shipment.id, TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())
)

# The request staff (or the auto-approval timer) answered last; free edits have no decider.


def list_shipment_views(
    connection: Connection | Session, order_id: int, *, future_dated: bool = False
) -> tuple[ShipmentView, ...]:
    """Customers never see future-dated events; staff ask for them (`future_dated=True`)."""
    rows = connection.execute(_SHIPMENTS_WITH_EVENTS, {"order_id": order_id}).all()
    heads: dict[int, Any] = {}
    events: dict[int, list[EventView]] = {}
    for row in rows:
        heads.setdefault(row.id, row)
        bucket = events.setdefault(row.id, [])
        if row.occurred_at is not None and (future_dated or not row.future_dated):
            bucket.append(
                EventView(
                    row.occurred_at,
                    TrackingStatus(row.event_status),
                    row.description,
                    row.location,
                    row.raw_code,
                    bool(row.future_dated),
                )
            )
    return tuple(
        ShipmentView(
            id=head.id,
            direction=ShipmentDirection(head.direction),
            carrier_code=head.carrier_code,
            tracking_no=head.tracking_no,
            status=TrackingStatus(head.status),
            last_event_at=head.last_event_at,
            last_synced_at=head.last_synced_at,
            estimated_earliest=head.estimated_earliest,
            estimated_latest=head.estimated_latest,
            events=tuple(events[shipment_id]),
            label_created_at=head.label_created_at,
            shipped_at=head.shipped_at,
            voided_at=head.voided_at,
        )
        for shipment_id, head in heads.items()
    )
