"""Invoice verbs: the customer asks, finance issues or rejects, a refund flags 红冲."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.invoices.lifecycle import (
    OPEN_STATES,
    InvoiceAction,
    InvoiceStatus,
    next_status,
)
from backend.invoices.models import InvoiceRequest, TitleKind
from backend.invoices.uscc import is_valid_uscc, normalise
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.staff.permissions import Permission, check_permission

# Paid and not (yet) paid back in full: an order that was never paid, or was cancelled or
# refunded in full, has nothing to invoice.
INVOICEABLE_ORDER_STATES = frozenset(OrderStatus) - {
    OrderStatus.PENDING_PAYMENT,
    OrderStatus.CANCELLED,
    OrderStatus.REFUNDED,
}
# docs/protocols.md, "Invoices / PDF upload": the first bytes decide, the filename proves nothing.
PDF_MAGIC = b"%PDF-"
PDF_MAX_BYTES = 5 * 1024 * 1024
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TITLE_MAX = 100


class InvoiceInvalid(Exception):
    """The request can't be accepted as written; `code` names the field's problem."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class InvoiceNotAllowed(Exception):
    """The order can't have an invoice request now (unpaid, refunded, or one is open)."""


class InvoiceNotFound(Exception):
    """No such request (or not one this caller may see)."""


class PdfRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # "not_pdf" or "too_large"


@dataclass(frozen=True)
class InvoiceTitle:
    kind: TitleKind
    title: str
    tax_number: str | None = None
    email: str | None = None


def check_title(title: InvoiceTitle) -> InvoiceTitle:
    """The title as stored, or InvoiceInvalid naming the first field that is wrong."""
    name = title.title.strip()
    if not name or len(name) > TITLE_MAX:
        raise InvoiceInvalid("title")
    if title.kind == TitleKind.PERSONAL:
        return InvoiceTitle(TitleKind.PERSONAL, name)
    code = normalise(title.tax_number or "")
    if not is_valid_uscc(code):
        raise InvoiceInvalid("tax_number")
    email = (title.email or "").strip()
    if not EMAIL.match(email) or len(email) > 120:
        raise InvoiceInvalid("email")
    return InvoiceTitle(TitleKind.COMPANY, name, code, email)


def check_pdf(content: bytes) -> None:
    if len(content) > PDF_MAX_BYTES:
        raise PdfRefused("too_large")
    if not content.startswith(PDF_MAGIC):
        raise PdfRefused("not_pdf")


def open_request_of(session: Session, order_id: int) -> InvoiceRequest | None:
    return session.scalars(
        select(InvoiceRequest)
        .where(InvoiceRequest.order_id == order_id, InvoiceRequest.status.in_(OPEN_STATES))
        .order_by(InvoiceRequest.id.desc())
    ).first()


def request_invoice(
    database: Database, order_id: int, customer_id: int, title: InvoiceTitle, actor: Actor
) -> int:
    """The customer asks for an invoice on their paid order; returns the request's id."""
    if actor.kind != ActorKind.CUSTOMER:
        check_permission(actor, Permission.ISSUE_INVOICES)
    checked = check_title(title)
    with database.write() as session:
        order = session.get(Order, order_id, with_for_update=True)
        if order is None or order.customer_id != customer_id:
            raise InvoiceNotFound(order_id)
        if OrderStatus(order.status) not in INVOICEABLE_ORDER_STATES or order.paid_fen <= 0:
            raise InvoiceNotAllowed("order_not_paid")
        if open_request_of(session, order_id) is not None:
            raise InvoiceNotAllowed("already_requested")
        request = InvoiceRequest(
            order_id=order_id,
            customer_id=customer_id,
            status=InvoiceStatus.REQUESTED,
            title_kind=checked.kind,
            title=checked.title,
            tax_number=checked.tax_number,
            email=checked.email,
            amount_fen=order.paid_fen,
        )
        session.add(request)
        session.flush()
        audit.record(
            session,
            actor,
            "invoice.requested",
            subject="invoice",
            subject_id=request.id,
            order_id=order_id,
            after={"title_kind": str(checked.kind), "amount_fen": order.paid_fen},
        )
        return request.id


def _move(
    session: Session, request: InvoiceRequest, action: InvoiceAction, actor: Actor, **after: object
) -> None:
    before = InvoiceStatus(request.status)
    request.status = next_status(before, action)
    audit.record(
        session,
        actor,
        f"invoice.{action}",
        subject="invoice",
        subject_id=request.id,
        order_id=request.order_id,
        before={"status": str(before)},
        after={"status": str(request.status), **after},
    )


def _locked(session: Session, invoice_id: int) -> InvoiceRequest:
    request = session.get(InvoiceRequest, invoice_id, with_for_update=True)
    if request is None:
        raise InvoiceNotFound(invoice_id)
    return request


def issue_invoice_with_pdf(
    database: Database, invoice_id: int, content: bytes, actor: Actor
) -> None:
    """Finance uploads the PDF issued outside the portal; the customer may download it."""
    check_permission(actor, Permission.ISSUE_INVOICES)
    check_pdf(content)
    digest = hashlib.sha256(content).hexdigest()
    with database.write() as session:
        request = _locked(session, invoice_id)
        _move(session, request, InvoiceAction.ISSUE, actor, pdf_sha256=digest)
        request.pdf, request.pdf_sha256 = content, digest
        request.issued_at, request.decided_by = utcnow(), actor.identifier


def reject_invoice(database: Database, invoice_id: int, reason: str, actor: Actor) -> None:
    check_permission(actor, Permission.ISSUE_INVOICES)
    reason = reason.strip()[:200]
    if not reason:
        raise InvoiceInvalid("reason")
    with database.write() as session:
        request = _locked(session, invoice_id)
        _move(session, request, InvoiceAction.REJECT, actor, reason=reason)
        request.reject_reason, request.decided_by = reason, actor.identifier


def record_reversal(database: Database, invoice_id: int, actor: Actor) -> None:
    """Finance says the 红冲 invoice was issued; the flag leaves the queue."""
    check_permission(actor, Permission.ISSUE_INVOICES)
    with database.write() as session:
        request = _locked(session, invoice_id)
        _move(session, request, InvoiceAction.RECORD_REVERSAL, actor)
        request.reversed_at = utcnow()


def flag_for_reversal(session: Session, order_id: int, actor: Actor) -> bool:
    """Inside the refund's own transaction: an issued invoice of the order now owes 红冲.

    A request not yet issued is left alone: staff see the refund on the order when they
    come to issue it, and issue for what is left or reject.
    """
    request = open_request_of(session, order_id)
    if request is None or request.status != InvoiceStatus.ISSUED:
        return False
    _move(session, request, InvoiceAction.FLAG_REVERSAL, actor)
    request.reversal_flagged_at = utcnow()
    return True
