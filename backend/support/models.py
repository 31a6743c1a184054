"""Support tables: one row per reminder or message a customer sent about an order."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.personal_data import EncryptedString
from backend.support.lifecycle import NoteKind, RequestKind, RequestStatus


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


class CustomerNote(Base):
    """What staff know about a customer that the customer never sees: a note or a complaint.

    A complaint (投诉, taken by phone, on a channel or in a group) stays open until someone
    resolves it; it counts among the customer's open issues on the customer page.
    """

    __tablename__ = "customer_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # The order it was written on; None for a note about the customer as a whole.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[NoteKind] = mapped_column(EnumText(NoteKind, 12))
    # Sealed: staff write what the customer said, phone numbers and streets included.
    body: Mapped[str] = mapped_column(EncryptedString("customer_notes.body"))
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
