"""The audit trail table: who changed what, from what, to what, when, and from where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.actors import ActorKind
from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.personal_data import EncryptedJSON


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # Recent events of one kind (the warehouse's recent scans) without scanning the table.
    __table_args__ = (Index("ix_audit_events_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    subject: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(60))
    actor_kind: Mapped[ActorKind] = mapped_column(EnumText(ActorKind, 20))
    actor_id: Mapped[str] = mapped_column(String(120))
    actor_channel: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(64))
    # Sealed: an address change's before and after are a phone and a street.
    before: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("audit_events.before"))
    after: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("audit_events.after"))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
