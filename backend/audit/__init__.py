"""Audit events: one row per change, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.clock import utcnow


def build(
    actor: Actor,
    action: str,
    *,
    subject: str,
    subject_id: object,
    order_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One event's column values, for `record` or for writing many at once (`record_all`)."""
    return {
        "order_id": order_id,
        "subject": subject,
        "subject_id": str(subject_id),
        "action": action,
        "actor_kind": actor.kind,
        "actor_id": actor.identifier,
        "actor_channel": actor.channel,
        "ip": actor.ip,
        "before": before,
        "after": after,
        "at": at or utcnow(),
    }


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
    values = build(
        actor,
        action,
        subject=subject,
        subject_id=subject_id,
        order_id=order_id,
        before=before,
        after=after,
        at=at,
    )
    event = AuditEvent(**values)
    session.add(event)
    return event


_EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]


def record_all(session: Session, events: list[dict[str, Any]]) -> None:
    """Events built with `build`, written in one statement (a batch of intake's orders)."""
    if events:
        session.execute(insert(_EVENTS), events)
