"""Read models of invoice requests for pages: frozen rows, and the PDF for whoever may see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import Database
from backend.invoices.lifecycle import InvoiceAction, InvoiceStatus, allowed_actions
from backend.invoices.models import InvoiceRequest, TitleKind
from backend.invoices.service import InvoiceNotFound
from backend.orders.models import Order

# Waiting for finance: new requests, and issued invoices a refund has made wrong.
QUEUE_STATES = (InvoiceStatus.REQUESTED, InvoiceStatus.REVERSAL_PENDING)


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    order_id: int
    order_public_no: str
    status: InvoiceStatus
    title_kind: TitleKind
    title: str
    tax_number: str | None
    email: str | None
    amount_fen: int
    reject_reason: str | None
    created_at: datetime
    actions: frozenset[InvoiceAction]


def _row(request: InvoiceRequest, public_no: str) -> InvoiceRow:
    status = InvoiceStatus(request.status)
    return InvoiceRow(
        request.id,
        request.order_id,
        public_no,
        status,
        TitleKind(request.title_kind),
        request.title,
        request.tax_number,
        request.email,
        request.amount_fen,
        request.reject_reason,
        request.created_at,
        allowed_actions(status),
    )


def list_invoice_queue(database: Database) -> list[InvoiceRow]:
    with database.read() as session:
        found = session.execute(
            select(InvoiceRequest, Order.public_no)
            .join(Order, Order.id == InvoiceRequest.order_id)
            .where(InvoiceRequest.status.in_(QUEUE_STATES))
            .order_by(InvoiceRequest.created_at)
        ).all()
        return [_row(request, public_no) for request, public_no in found]


def latest_invoice_of(session: Session, order_id: int) -> InvoiceRow | None:
    found = session.execute(
        select(InvoiceRequest, Order.public_no)
        .join(Order, Order.id == InvoiceRequest.order_id)
        .where(InvoiceRequest.order_id == order_id)
        .order_by(InvoiceRequest.id.desc())
    ).first()
    return None if found is None else _row(found[0], found[1])


def get_invoice_pdf(database: Database, invoice_id: int, customer_id: int | None) -> bytes:
    """The issued PDF; `customer_id` None means staff (the route checked the permission).

    Another customer's invoice is answered as not found, so ids can't be probed.
    """
    with database.read() as session:
        request = session.get(InvoiceRequest, invoice_id)
        if request is None or request.pdf is None:
            raise InvoiceNotFound(invoice_id)
        if customer_id is not None and request.customer_id != customer_id:
            raise InvoiceNotFound(invoice_id)
        return request.pdf


def get_invoice_of(database: Database, order_id: int) -> InvoiceRow | None:
    """The order's latest request: what the customer's invoice page shows."""
    with database.read() as session:
        return latest_invoice_of(session, order_id)


def mask_tax_number(code: str | None) -> str:
    """Enough for the customer to recognise their code on a shared screen, not to copy it."""
    return "" if not code else f"{code[:4]}**********{code[-4:]}"


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"
