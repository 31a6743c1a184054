"""Shipments and their tracking events, each event keeping the carrier's raw code and text."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.logistics.status import TrackingStatus


class ShipmentDirection(StrEnum):
    OUTBOUND = "outbound"
    RETURN = "return"


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("carrier_code", "tracking_no"),
        Index("ix_shipments_status_event", "status", "last_event_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    direction: Mapped[ShipmentDirection] = mapped_column(
        EnumText(ShipmentDirection, 10), default=ShipmentDirection.OUTBOUND
    )
    # Kuaidi100's company codes are the internal key ("shunfeng", "yuantong", ...).
    carrier_code: Mapped[str] = mapped_column(String(32))
    tracking_no: Mapped[str] = mapped_column(String(40))
    status: Mapped[TrackingStatus] = mapped_column(
        EnumText(TrackingStatus, 24), default=TrackingStatus.PENDING
    )
    raw_status: Mapped[str | None] = mapped_column(String(40))
    origin_province: Mapped[str | None] = mapped_column(String(32))
    destination_province: Mapped[str | None] = mapped_column(String(32))
    label_created_at: Mapped[datetime] = mapped_column(default=utcnow)
    picked_up_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    # When the carrier was last heard from, successfully; drives "updated N minutes ago".
    last_synced_at: Mapped[datetime | None]
    # Last reprint of the label; an address version newer than the label needs a new one.
    label_reprinted_at: Mapped[datetime | None]
    # How the waybill reached us: booked at a carrier, by hand, an import, an ERP, a channel.
    source: Mapped[str | None] = mapped_column(String(20))
    # When the parcel left: at pickup for a label booked here, at once for one shipped
    # elsewhere (a 3PL, the platform). The order's status follows its parcels' (parcels.py).
    shipped_at: Mapped[datetime | None]
    # A label booked by mistake, or for an order cancelled before pickup; it counts no more.
    voided_at: Mapped[datetime | None]

    def label_is_stale(self, address_changed_at: datetime | None) -> bool:
        printed = self.label_reprinted_at or self.label_created_at
        return address_changed_at is not None and address_changed_at > printed

    # Shanghai calendar dates, set when the label is created from the lane's history.
    estimated_earliest: Mapped[date | None]
    estimated_latest: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TrackingEvent(Base):
    __tablename__ = "tracking_events"
    __table_args__ = (
        UniqueConstraint("shipment_id", "dedupe_key"),
        Index("ix_tracking_events_shipment_time", "shipment_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    occurred_at: Mapped[datetime]
    status: Mapped[TrackingStatus] = mapped_column(EnumText(TrackingStatus, 24))
    raw_code: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(500))
    location: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20))
    dedupe_key: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Dated too far after received_at (timeline.is_future_dated): shown to staff, marked, and
    # left out of the shipment's status, times, notices and the customer's timeline.
    future_dated: Mapped[bool] = mapped_column(default=False)


class ShipmentLine(Base):
    """Which order lines, and how many of each, travel in a parcel.

    A shipment with no lines is an older one that carries the whole order.
    """

    __tablename__ = "shipment_lines"
    __table_args__ = (
        UniqueConstraint("shipment_id", "order_line_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    quantity: Mapped[int]


class ParcelLabel(Base):
    """A waybill booked at a carrier by the pack scan: enough to show, reprint and void it.

    Kept apart from `shipments` because a label PDF is tens of kilobytes that no tracking
    query should drag along.
    """

    __tablename__ = "parcel_labels"

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), primary_key=True)
    # The idempotency key sent with the booking: order public_no and parcel number.
    order_key: Mapped[str] = mapped_column(String(60), unique=True)
    provider: Mapped[str] = mapped_column(String(20))  # who booked it: kuaidi100, sf
    provider_order_id: Mapped[str | None] = mapped_column(String(64))  # needed to cancel
    label_url: Mapped[str | None] = mapped_column(String(500))
    print_task_id: Mapped[str | None] = mapped_column(String(64))
    printed: Mapped[bool] = mapped_column(Boolean, default=False)  # sent to a cloud printer
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    booked_at: Mapped[datetime] = mapped_column(default=utcnow)
