"""Support tables: one row per reminder or message a customer sent about an order."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.support.lifecycle import RequestKind, RequestStatus


class SupportRequest(Base):
    __tablename__ = "support_requests"
    # The database keeps "one reminder per order per Shanghai day" even when two taps race:
    # messages leave reminder_day NULL, and NULLs never collide in a unique constraint.
    __table_args__ = (UniqueConstraint("order_id", "reminder_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[RequestKind] = mapped_column(EnumText(RequestKind, 16))
    status: Mapped[RequestStatus] = mapped_column(EnumText(RequestStatus, 16), index=True)
    body: Mapped[str | None] = mapped_column(Text)
    reminder_day: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]
    replied_by: Mapped[str | None] = mapped_column(String(64))
