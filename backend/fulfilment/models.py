"""Ship confirmations: one row per outbound shipment, from pending to confirmed or refused."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.orders.models import SalesChannel


class ConfirmationStatus(StrEnum):
    PENDING = "pending"  # waiting for the worker
    RETRYING = "retrying"  # the platform was unreachable or busy; the job tries again
    CONFIRMED = "confirmed"  # the platform accepted the waybill
    REFUSED = "refused"  # the platform said no: staff look at its message and retry
    # Nothing to tell: the platform has no ship API here (own shop, manual order) or keeps
    # one waybill per order and already has the first one (Pinduoduo, JD).
    SKIPPED = "skipped"


class ShipConfirmationRecord(Base):
    __tablename__ = "ship_confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    platform: Mapped[SalesChannel] = mapped_column(EnumText(SalesChannel, 20))
    status: Mapped[ConfirmationStatus] = mapped_column(
        EnumText(ConfirmationStatus, 12), default=ConfirmationStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    # Stored before the first call and sent with every retry where the platform takes one
    # (Douyin's request_id), so a call repeated after a crash does not ship twice.
    idempotency_key: Mapped[str] = mapped_column(String(64))
    last_code: Mapped[str | None] = mapped_column(String(80))
    last_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    confirmed_at: Mapped[datetime | None]
