"""Support verbs: a customer's 催发货 and messages, staff replies; each one transaction, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, bindparam, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import shanghai_date, utcnow
from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.staff.permissions import Permission, check_permission
from backend.support.lifecycle import RequestAction, RequestKind, RequestStatus, next_status
from backend.support.models import SupportRequest

SUBJECT = "support_request"
# Paid but not yet fully on its way: the only orders a "please ship" can be about.
AWAITING_SHIPMENT = frozenset(
    {OrderStatus.PAID, OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.PARTIALLY_SHIPPED}
)
MESSAGE_MAX_CHARS = 500
REPLY_MAX_CHARS = 1000
# Unanswered messages per order: enough to add a detail, not enough to flood the queue.
MAX_OPEN_MESSAGES = 3


class SupportOrderNotFound(LookupError):
    """No order with that id."""


class SupportNotYours(Exception):
    """Only the order's customer, from their own order's page, may remind or write."""


class ReminderNotNeeded(Exception):
    """The order is not paid-and-waiting, or its shipping promise has not passed yet."""

    def __init__(self, promised_by: datetime | None) -> None:
        super().__init__(f"not past the shipping promise ({promised_by})")
        self.promised_by = promised_by


class ReminderAlreadySentToday(Exception):
    """One 催发货 per order per Shanghai calendar day."""


class MessageEmpty(ValueError):
    """A message with nothing in it."""


class MessageTooLong(ValueError):
    """Longer than the limit (MESSAGE_MAX_CHARS or REPLY_MAX_CHARS)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"longer than {limit} characters")
        self.limit = limit


class TooManyOpenMessages(Exception):
    """MAX_OPEN_MESSAGES are still waiting for an answer on this order."""


class SupportRequestNotFound(LookupError):
    """No support request with that id."""


def promised_ship_by(order: Order, promise: timedelta) -> datetime | None:
    """When the order should have left, for orders still waiting to ship."""
    return ship_by(OrderStatus(order.status), order.paid_at, promise)


def ship_by(status: OrderStatus, paid_at: datetime | None, promise: timedelta) -> datetime | None:
    """The shipping promise from the order's facts alone (the tracking page has no ORM row)."""
    if status not in AWAITING_SHIPMENT or paid_at is None:
        return None
    return paid_at + promise


def can_send_reminder(due: datetime | None, last_reminder_day: date | None, now: datetime) -> bool:
    """What send_reminder checks, for the page to offer the button only when it would work."""
    return due is not None and now >= due and last_reminder_day != shanghai_date(now)


def can_leave_message(open_messages: int) -> bool:
    return open_messages < MAX_OPEN_MESSAGES


def _customer_order(session: Session, order_id: int, actor: Actor) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise SupportOrderNotFound(order_id)
    # Customer actors are named after the order whose page they act from.
    if actor.kind != ActorKind.CUSTOMER or actor.identifier != f"customer:{order.public_no}":
        raise SupportNotYours(f"{actor.kind}:{actor.identifier} on order {order_id}")
    return order


def _clean(text: str, limit: int) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise MessageEmpty()
    if len(cleaned) > limit:
        raise MessageTooLong(limit)
    return cleaned


def _add(session: Session, request: SupportRequest, actor: Actor) -> int:
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor,
        f"support.{request.kind}",
        subject=SUBJECT,
        subject_id=request.id,
        order_id=request.order_id,
        after={"kind": str(request.kind), "status": str(request.status)},
        at=request.created_at,
    )
    return request.id


def send_reminder(
    database: Database,
    order_id: int,
    actor: Actor,
    *,
    promise: timedelta,
    now: datetime | None = None,
) -> int:
    """催发货 on a paid order past its shipping promise; once per Shanghai calendar day."""
    now = now or utcnow()
    day = shanghai_date(now)
    try:
        with database.write() as session:
            order = _customer_order(session, order_id, actor)
            due = promised_ship_by(order, promise)
            if due is None or now < due:
                raise ReminderNotNeeded(due)
            already = session.scalar(
                select(SupportRequest.id).where(
                    SupportRequest.order_id == order_id, SupportRequest.reminder_day == day
                )
            )
            if already is not None:
                raise ReminderAlreadySentToday(order_id)
            request = SupportRequest(
                order_id=order_id,
                kind=RequestKind.REMINDER,
                status=RequestStatus.OPEN,
                reminder_day=day,
                created_at=now,
            )
            return _add(session, request, actor)
    except IntegrityError:
        # Two taps raced past the check above; the unique constraint let only one in.
        raise ReminderAlreadySentToday(order_id) from None


def leave_message(
    database: Database, order_id: int, actor: Actor, body: str, now: datetime | None = None
) -> int:
    """联系客服: a message with the order attached, for support's queue."""
    now = now or utcnow()
    text = _clean(body, MESSAGE_MAX_CHARS)
    with database.write() as session:
        _customer_order(session, order_id, actor)
        waiting = session.scalar(
            select(func.count()).where(
                SupportRequest.order_id == order_id,
                SupportRequest.kind == RequestKind.MESSAGE,
                SupportRequest.status == RequestStatus.OPEN,
            )
        )
        if (waiting or 0) >= MAX_OPEN_MESSAGES:
            raise TooManyOpenMessages(order_id)
        request = SupportRequest(
            order_id=order_id,
            kind=RequestKind.MESSAGE,
            status=RequestStatus.OPEN,
            body=text,
            created_at=now,
        )
        return _add(session, request, actor)


def answer_request(
    database: Database, request_id: int, actor: Actor, reply: str, now: datetime | None = None
) -> None:
    """Staff reply to a reminder or message; the customer sees it on the tracking page."""
    check_permission(actor, Permission.ANSWER_CUSTOMERS)
    now = now or utcnow()
    text = _clean(reply, REPLY_MAX_CHARS)
    with database.write() as session:
        request = session.get(SupportRequest, request_id, with_for_update=True)
        if request is None:
            raise SupportRequestNotFound(request_id)
        before = request.status
        request.status = next_status(RequestStatus(request.status), RequestAction.ANSWER)
        request.reply, request.replied_at, request.replied_by = text, now, actor.identifier
        audit.record(
            session,
            actor,
            "support.answer",
            subject=SUBJECT,
            subject_id=request.id,
            order_id=request.order_id,
            before={"status": str(before)},
            after={"status": str(request.status)},
            at=now,
        )


@dataclass(frozen=True)
class RequestView:
    id: int
    kind: RequestKind
    status: RequestStatus
    body: str | None
    created_at: datetime
    reply: str | None
    replied_at: datetime | None


# Built once: the tracking page runs it on the connection it already holds.
_ORDER_REQUESTS = (
    select(
        SupportRequest.id,
        SupportRequest.kind,
        SupportRequest.status,
        SupportRequest.body,
        SupportRequest.created_at,
        SupportRequest.reply,
        SupportRequest.replied_at,
    )
    .where(SupportRequest.order_id == bindparam("order_id"))
    .order_by(SupportRequest.created_at, SupportRequest.id)
)


def read_order_requests(connection: Connection, order_id: int) -> tuple[RequestView, ...]:
    """One query on a connection the caller holds (the tracking page's own)."""
    rows = connection.execute(_ORDER_REQUESTS, {"order_id": order_id}).all()
    return tuple(
        RequestView(
            r.id,
            RequestKind(r.kind),
            RequestStatus(r.status),
            r.body,
            r.created_at,
            r.reply,
            r.replied_at,
        )
        for r in rows
    )


def list_order_requests(database: Database, order_id: int) -> list[RequestView]:
    """An order's reminders and messages, oldest first (tracking page and staff order page)."""
    with database.engine.connect() as connection:
        return list(read_order_requests(connection, order_id))


@dataclass(frozen=True)
class QueueEntry:
    order_id: int
    public_no: str
    reminders: int
    messages: int
    oldest: datetime

    def age(self, now: datetime) -> timedelta:
        return now - self.oldest


def list_support_queue(database: Database) -> list[QueueEntry]:
    """Orders with unanswered reminders or messages, the longest waiting first."""
    reminders = func.sum(case((SupportRequest.kind == RequestKind.REMINDER, 1), else_=0))
    with database.read() as session:
        rows = session.execute(
            select(
                Order.id,
                Order.public_no,
                reminders,
                func.count(SupportRequest.id),
                func.min(SupportRequest.created_at),
            )
            .join(Order, Order.id == SupportRequest.order_id)
            .where(SupportRequest.status == RequestStatus.OPEN)
            .group_by(Order.id, Order.public_no)
            .order_by(func.min(SupportRequest.created_at))
        ).all()
    return [
        QueueEntry(order_id, public_no, int(r or 0), int(total) - int(r or 0), oldest)
        for order_id, public_no, r, total, oldest in rows
    ]


def reminders_today(database: Database, order_id: int, now: datetime | None = None) -> int:
    """How many 催发货 the order has today (0 or 1), for the page to show the button or not."""
    day = shanghai_date(now or utcnow())
    with database.read() as session:
        count = session.scalar(
            select(func.count()).where(
                SupportRequest.order_id == order_id, SupportRequest.reminder_day == day
            )
        )
    return int(count or 0)
