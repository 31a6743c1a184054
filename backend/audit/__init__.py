"""Audit events: one row per change, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.clock import utcnow


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
