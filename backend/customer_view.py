"""The customer page (客户360) for staff: everything about one customer, on one page.

Support asks three things first: how many orders, how many refunds lately, and what is
still open. Those figures lead the page; below them the customer's orders, returns,
refunds, address requests, messages, notes and complaints, and who looked at their
personal data. Phones and streets are never shown here in clear: a reveal is per order,
with a reason, on the order page (disclosure.py), and this page lists those reveals.

One read, a fixed number of statements whatever the customer's history (tested), and
each list capped at LIST_LIMIT rows, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.db import Database
from backend.disclosure import REVEALED
from backend.orders.masking import mask_phone
from backend.orders.models import AddressChange, ChangeKind, ChangeStatus, Customer, Order
from backend.orders.queries import OrderSummary, summary_select, to_summary
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.models import Refund, RefundState, ReturnRequest
from backend.refunds.rules import RefundType
from backend.support.lifecycle import NoteKind, RequestKind, RequestStatus
from backend.support.models import CustomerNote, SupportRequest

LIST_LIMIT = 50
RECENT = timedelta(days=90)
# A return still waiting for someone: review, the parcel, the money, or finance.
OPEN_RETURNS = frozenset(set(ReturnStatus) - {ReturnStatus.REFUNDED, ReturnStatus.REJECTED})
# Refunds that moved money or may yet (a failed one paid nothing).
COUNTED_REFUNDS = frozenset(
    {RefundState.STORED, RefundState.PROCESSING, RefundState.SUCCESS, RefundState.ABNORMAL}
)


@dataclass(frozen=True)
class CustomerFigures:
    orders: int  # all time
    orders_recent: int  # placed in the last 90 days
    refunds_recent: int  # refunds created in the last 90 days (not the failed ones)
    refunded_recent_fen: int
    open_issues: int  # open messages and 催发货, open returns, address requests, complaints


@dataclass(frozen=True)
class ReturnRow:
    id: int
    order_id: int
    public_no: str
    status: ReturnStatus
    refund_type: RefundType
    reason: str
    amount_fen: int
    created_at: datetime


@dataclass(frozen=True)
class RefundRow:
    order_id: int
    public_no: str
    amount_fen: int
    status: RefundState
    gateway: str
    created_at: datetime
    succeeded_at: datetime | None


@dataclass(frozen=True)
class AddressRequestRow:
    order_id: int
    public_no: str
    kind: ChangeKind
    status: ChangeStatus
    area: str  # province, city and district: the street stays on the order page
    requested_by: str
    created_at: datetime


@dataclass(frozen=True)
class MessageRow:
    order_id: int
    public_no: str
    kind: RequestKind
    status: RequestStatus
    body: str | None
    reply: str | None
    created_at: datetime


@dataclass(frozen=True)
class NoteRow:
    id: int
    order_id: int | None
    public_no: str | None
    kind: NoteKind
    body: str
    author: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None

    @property
    def open(self) -> bool:
        return self.kind == NoteKind.COMPLAINT and self.resolved_at is None


@dataclass(frozen=True)
class LookRow:
    """One reveal of this customer's phone or street: who, when, on which order, why."""

    at: datetime
    staff: str
    order_id: int
    public_no: str
    reason: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class CustomerView:
    id: int
    name: str
    phone: str  # masked
    since: datetime  # the first order placed (or the row, for a customer with none)
    figures: CustomerFigures
    orders: tuple[OrderSummary, ...]
    returns: tuple[ReturnRow, ...]
    refunds: tuple[RefundRow, ...]
    address_requests: tuple[AddressRequestRow, ...]
    messages: tuple[MessageRow, ...]
    notes: tuple[NoteRow, ...]
    looks: tuple[LookRow, ...]


def get_customer_view(
    database: Database, customer_id: int, now: datetime | None = None
) -> CustomerView | None:
    since = (now or utcnow()) - RECENT
    mine = select(Order.id).where(Order.customer_id == customer_id).scalar_subquery()
    with database.read() as session:
        customer = session.execute(
            select(Customer.name, Customer.phone, Customer.created_at).where(
                Customer.id == customer_id
            )
        ).first()
        if customer is None:
            return None
        orders = session.execute(
            summary_select()
            .where(Order.customer_id == customer_id)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(LIST_LIMIT)
        ).all()
        order_counts = session.execute(
            select(
                func.count(Order.id),
                func.count(Order.id).filter(Order.placed_at >= since),
                func.min(Order.placed_at),
            ).where(Order.customer_id == customer_id)
        ).one()
        returns = session.execute(
            select(
                ReturnRequest.id,
                ReturnRequest.order_id,
                Order.public_no,
                ReturnRequest.status,
                ReturnRequest.refund_type,
                ReturnRequest.reason,
                ReturnRequest.amount_fen,
                ReturnRequest.created_at,
            )
            .join(Order, Order.id == ReturnRequest.order_id)
            .where(ReturnRequest.customer_id == customer_id)
            .order_by(ReturnRequest.created_at.desc(), ReturnRequest.id.desc())
            .limit(LIST_LIMIT)
        ).all()
        refunds = session.execute(
            select(
                Refund.order_id,
                Order.public_no,
                Refund.amount_fen,
                Refund.status,
                Refund.gateway,
                Refund.created_at,
                Refund.succeeded_at,
            )
            .join(Order, Order.id == Refund.order_id)
            .where(Order.customer_id == customer_id)
            .order_by(Refund.created_at.desc(), Refund.id.desc())
            .limit(LIST_LIMIT)
        ).all()
        refund_figures = session.execute(
            select(func.count(Refund.id), func.coalesce(func.sum(Refund.amount_fen), 0)).where(
                Refund.order_id.in_(mine),
                Refund.created_at >= since,
                Refund.status.in_(COUNTED_REFUNDS),
            )
        ).one()
        changes = session.execute(
            select(
                AddressChange.order_id,
                Order.public_no,
                AddressChange.kind,
                AddressChange.status,
                AddressChange.province,
                AddressChange.city,
                AddressChange.district,
                AddressChange.requested_by,
                AddressChange.created_at,
            )
            .join(Order, Order.id == AddressChange.order_id)
            .where(Order.customer_id == customer_id)
            .order_by(AddressChange.created_at.desc(), AddressChange.id.desc())
            .limit(LIST_LIMIT)
        ).all()
        messages = session.execute(
            select(
                SupportRequest.order_id,
                Order.public_no,
                SupportRequest.kind,
                SupportRequest.status,
                SupportRequest.body,
                SupportRequest.reply,
                SupportRequest.created_at,
            )
            .join(Order, Order.id == SupportRequest.order_id)
            .where(Order.customer_id == customer_id)
            .order_by(SupportRequest.created_at.desc(), SupportRequest.id.desc())
            .limit(LIST_LIMIT)
        ).all()
        notes = session.execute(
            select(
                CustomerNote.id,
                CustomerNote.order_id,
                Order.public_no,
                CustomerNote.kind,
                CustomerNote.body,
                CustomerNote.author,
                CustomerNote.created_at,
                CustomerNote.resolved_at,
                CustomerNote.resolved_by,
            )
            .outerjoin(Order, Order.id == CustomerNote.order_id)
            .where(CustomerNote.customer_id == customer_id)
            .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
            .limit(LIST_LIMIT)
        ).all()
        open_counts = session.execute(
            select(
                select(func.count(SupportRequest.id))
                .where(
                    SupportRequest.order_id.in_(mine),
                    SupportRequest.status == RequestStatus.OPEN,
                )
                .scalar_subquery(),
                select(func.count(ReturnRequest.id))
                .where(
                    ReturnRequest.customer_id == customer_id,
                    ReturnRequest.status.in_(OPEN_RETURNS),
                )
                .scalar_subquery(),
                select(func.count(AddressChange.id))
                .where(
                    AddressChange.order_id.in_(mine),
                    AddressChange.status == ChangeStatus.PENDING_APPROVAL,
                )
                .scalar_subquery(),
                select(func.count(CustomerNote.id))
                .where(
                    CustomerNote.customer_id == customer_id,
                    CustomerNote.kind == NoteKind.COMPLAINT,
                    CustomerNote.resolved_at.is_(None),
                )
                .scalar_subquery(),
            )
        ).one()
        # The reason and fields are in the sealed `after`: filtered by action in SQL, read here.
        looks = session.execute(
            select(
                AuditEvent.at,
                AuditEvent.actor_id,
                AuditEvent.order_id,
                Order.public_no,
                AuditEvent.after,
            )
            .join(Order, Order.id == AuditEvent.order_id)
            .where(AuditEvent.action == REVEALED, Order.customer_id == customer_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(LIST_LIMIT)
        ).all()
    return CustomerView(
        id=customer_id,
        name=customer.name,
        phone=mask_phone(customer.phone),
        # The first order, which may be older than the row (an order imported later).
        since=min(filter(None, (order_counts[2], customer.created_at))),
        figures=CustomerFigures(
            orders=int(order_counts[0]),
            orders_recent=int(order_counts[1]),
            refunds_recent=int(refund_figures[0]),
            refunded_recent_fen=int(refund_figures[1]),
            open_issues=sum(int(count or 0) for count in open_counts),
        ),
        orders=tuple(to_summary(row, masked=True) for row in orders),
        returns=tuple(ReturnRow(*row) for row in returns),
        refunds=tuple(RefundRow(*row) for row in refunds),
        address_requests=tuple(
            AddressRequestRow(
                row.order_id,
                row.public_no,
                row.kind,
                row.status,
                " ".join(part for part in (row.province, row.city, row.district) if part),
                row.requested_by,
                row.created_at,
            )
            for row in changes
        ),
        messages=tuple(MessageRow(*row) for row in messages),
        notes=tuple(NoteRow(*row) for row in notes),
        looks=tuple(
            LookRow(
                row.at,
                row.actor_id,
                row.order_id,
                row.public_no,
                str((row.after or {}).get("reason", "")),
                tuple((row.after or {}).get("fields", ())),
            )
            for row in looks
        ),
    )
