"""Audit events: one row per change, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.actors import Actor, ActorKind
from backend.db import Base, EnumText, utcnow


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
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    subject: str,
    subject_id: object,
    order_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    event = AuditEvent(
        order_id=order_id,
        subject=subject,
        subject_id=str(subject_id),
        action=action,
        actor_kind=actor.kind,
        actor_id=actor.identifier,
        actor_channel=actor.channel,
        ip=actor.ip,
        before=before,
        after=after,
        at=at or utcnow(),
    )
    session.add(event)
    return event


def list_order_events(session: Session, order_id: int) -> list[AuditEvent]:
    statement = (
        select(AuditEvent)
        .where(AuditEvent.order_id == order_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    return list(session.scalars(statement))
