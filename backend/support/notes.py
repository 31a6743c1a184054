"""Internal notes and complaints (备注, 投诉) on a customer: verbs, each one transaction, audited.

Written from an order page, so each note remembers the order it was about; the customer
page (customer_view.py) gathers them across the customer's orders. The customer never sees
them. Notes are staff's words about a person, so the audit records that a note was written
and by whom, never its text (the text is sealed at rest in its own row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from backend import audit
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.orders.models import Order
from backend.staff.permissions import Permission, check_permission
from backend.support.lifecycle import NoteKind
from backend.support.models import CustomerNote

SUBJECT = "customer_note"
NOTE_MAX_CHARS = 1000


class NoteEmpty(ValueError):
    """A note needs some words."""


class NoteTooLong(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} characters")
        self.limit = limit


class NoteOrderNotFound(LookupError):
    pass


class NoteNotFound(LookupError):
    pass


class NotAComplaint(Exception):
    """Only an open complaint can be resolved; a note or a resolved complaint can't."""


def _clean(body: str) -> str:
    cleaned = body.strip()
    if not cleaned:
        raise NoteEmpty()
    if len(cleaned) > NOTE_MAX_CHARS:
        raise NoteTooLong(NOTE_MAX_CHARS)
    return cleaned


def add_note(
    database: Database,
    order_id: int,
    kind: NoteKind,
    body: str,
    actor: Actor,
    now: datetime | None = None,
) -> int:
    """A note or a complaint about the order's customer, written from that order's page."""
    check_permission(actor, Permission.ANSWER_CUSTOMERS)
    text, now = _clean(body), now or utcnow()
    with database.write() as session:
        customer_id = session.scalar(select(Order.customer_id).where(Order.id == order_id))
        if customer_id is None:
            raise NoteOrderNotFound(order_id)
        note = CustomerNote(
            customer_id=customer_id,
            order_id=order_id,
            kind=kind,
            body=text,
            author=actor.identifier,
            created_at=now,
        )
        session.add(note)
        session.flush()
        audit.record(
            session,
            actor,
            f"note.{kind}",
            subject=SUBJECT,
            subject_id=note.id,
            order_id=order_id,
            after={"kind": str(kind), "customer_id": customer_id, "chars": len(text)},
            at=now,
        )
        return note.id


def resolve_complaint(
    database: Database, note_id: int, actor: Actor, now: datetime | None = None
) -> int:
    """Marks an open complaint resolved; returns its customer's id (the page to go back to)."""
    check_permission(actor, Permission.ANSWER_CUSTOMERS)
    now = now or utcnow()
    with database.write() as session:
        note = session.get(CustomerNote, note_id, with_for_update=True)
        if note is None:
            raise NoteNotFound(note_id)
        if note.kind != NoteKind.COMPLAINT or note.resolved_at is not None:
            raise NotAComplaint(note_id)
        note.resolved_at, note.resolved_by = now, actor.identifier
        audit.record(
            session,
            actor,
            "note.complaint_resolved",
            subject=SUBJECT,
            subject_id=note.id,
            order_id=note.order_id,
            before={"resolved": False},
            after={"resolved": True, "customer_id": note.customer_id},
            at=now,
        )
        return note.customer_id


def customer_of_note(database: Database, note_id: int) -> int:
    with database.read() as session:
        customer_id = session.scalar(
            select(CustomerNote.customer_id).where(CustomerNote.id == note_id)
        )
    if customer_id is None:
        raise NoteNotFound(note_id)
    return int(customer_id)


def order_notes(database: Database, order_id: int) -> list[CustomerNoteRow]:
    """The notes written on this order, newest first, for the order page."""
    with database.read() as session:
        rows = session.execute(
            select(
                CustomerNote.kind,
                CustomerNote.body,
                CustomerNote.author,
                CustomerNote.created_at,
                CustomerNote.resolved_at,
            )
            .where(CustomerNote.order_id == order_id)
            .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
            .limit(20)
        ).all()
    return [CustomerNoteRow(*row) for row in rows]


@dataclass(frozen=True)
class CustomerNoteRow:
    kind: NoteKind
    body: str
    author: str
    created_at: datetime
    resolved_at: datetime | None
