"""补偿: staff refund a goodwill amount; above the limit finance approves it first.

Capped at what is left of the payment: paid, minus refunds committed (payouts), minus
goodwill still waiting for approval, so two requests can never promise more than was
paid. Paid through the order's own gateway by payouts.start_refund, which stores the
refund row and its key before the gateway is called. The form carries a one-time
`request_key` (a unique index with the order): a double click is one request. Finance's
approver must be someone other than the requester.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.goodwill.lifecycle import GoodwillAction, GoodwillStatus, next_status
from backend.goodwill.models import GoodwillRefund
from backend.orders.models import Order, PaymentMethod
from backend.orders.service import OrderNotFound
from backend.refunds import payouts
from backend.refunds.models import Refund, RefundState
from backend.staff.permissions import Permission, check_permission

MAX_REASON = 200


class GoodwillInvalid(ValueError):
    """No reason, an amount that is not positive, or a malformed request key."""


class GoodwillExceedsRoom(Exception):
    def __init__(self, room_fen: int) -> None:
        super().__init__(f"at most {room_fen} fen is left")
        self.room_fen = room_fen


class GoodwillNotPayable(Exception):
    """The order was not paid through a gateway we can refund through (or not paid)."""


class GoodwillNotFound(LookupError):
    pass


class SameApprover(Exception):
    """The requester can not approve their own goodwill refund."""


@dataclass(frozen=True)
class GoodwillOutcome:
    id: int
    status: GoodwillStatus
    amount_fen: int
    repeated: bool = False


def _actor_name(actor: Actor) -> str:
    return actor.identifier[:64]


def _waiting_fen(session: Session, order_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(GoodwillRefund.amount_fen), 0)).where(
            GoodwillRefund.order_id == order_id,
            GoodwillRefund.status == GoodwillStatus.AWAITING_APPROVAL,
        )
    )
    return int(total or 0)


def room_fen(session: Session, order: Order) -> int:
    """What a goodwill refund may still be: paid minus committed refunds and waiting goodwill."""
    left = (
        order.paid_fen - payouts.committed_fen(session, order.id) - _waiting_fen(session, order.id)
    )
    return max(left, 0)


def _existing(session: Session, order_id: int, request_key: str) -> GoodwillRefund | None:
    return session.scalars(
        select(GoodwillRefund).where(
            GoodwillRefund.order_id == order_id, GoodwillRefund.request_key == request_key
        )
    ).first()


def request_goodwill(
    database: Database,
    order_id: int,
    amount_fen: int,
    reason: str,
    request_key: str,
    actor: Actor,
    limit_fen: int,
    now: datetime | None = None,
) -> GoodwillOutcome:
    check_permission(actor, Permission.GRANT_GOODWILL)
    reason = reason.strip()[:MAX_REASON]
    if amount_fen <= 0 or not reason or not (8 <= len(request_key) <= 40):
        raise GoodwillInvalid(order_id)
    now = now or utcnow()
    try:
        with database.write() as session:
            return _request(
                session, order_id, amount_fen, reason, request_key, actor, limit_fen, now
            )
    except IntegrityError:
        # The twin of a double click won the unique index: the same request, once.
        with database.read() as session:
            row = _existing(session, order_id, request_key)
            if row is None:
                raise
            return GoodwillOutcome(row.id, GoodwillStatus(row.status), row.amount_fen, True)


def _request(
    session: Session,
    order_id: int,
    amount_fen: int,
    reason: str,
    request_key: str,
    actor: Actor,
    limit_fen: int,
    now: datetime,
) -> GoodwillOutcome:
    order = session.get(Order, order_id, with_for_update=True)
    if order is None:
        raise OrderNotFound(order_id)
    done = _existing(session, order_id, request_key)
    if done is not None:
        return GoodwillOutcome(done.id, GoodwillStatus(done.status), done.amount_fen, True)
    method = PaymentMethod(order.payment_method) if order.payment_method else None
    if order.paid_fen <= 0 or method not in payouts.GATEWAY_FOR:
        raise GoodwillNotPayable(order_id)
    room = room_fen(session, order)
    if amount_fen > room:
        raise GoodwillExceedsRoom(room)
    at_once = amount_fen <= limit_fen
    row = GoodwillRefund(
        order_id=order_id,
        request_key=request_key,
        amount_fen=amount_fen,
        reason=reason,
        status=GoodwillStatus.PAYING if at_once else GoodwillStatus.AWAITING_APPROVAL,
        requested_by=_actor_name(actor),
        created_at=now,
    )
    if at_once:
        row.refund_id = payouts.start_refund(session, order_id, amount_fen, actor, now=now).id
        row.decided_by, row.decided_at = row.requested_by, now
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "goodwill.requested",
        subject="goodwill",
        subject_id=row.id,
        order_id=order_id,
        after={
            "amount_fen": amount_fen,
            "reason": reason,
            "status": str(row.status),
            "limit_fen": limit_fen,
        },
        at=now,
    )
    return GoodwillOutcome(row.id, GoodwillStatus(row.status), amount_fen)


def decide_goodwill(
    database: Database, goodwill_id: int, approve: bool, actor: Actor
) -> GoodwillOutcome:
    """Finance approves (the refund is stored and paid) or rejects a waiting goodwill refund."""
    check_permission(actor, Permission.APPROVE_GOODWILL)
    action = GoodwillAction.APPROVE if approve else GoodwillAction.REJECT
    now = utcnow()
    with database.write() as session:
        row = session.get(GoodwillRefund, goodwill_id, with_for_update=True)
        if row is None:
            raise GoodwillNotFound(goodwill_id)
        status = next_status(GoodwillStatus(row.status), action)
        if approve and row.requested_by == _actor_name(actor):
            raise SameApprover(goodwill_id)
        before = {"status": str(row.status)}
        if approve:
            try:
                refund = payouts.start_refund(session, row.order_id, row.amount_fen, actor)
            except payouts.RefundExceedsPayment as over:
                # Refunds paid meanwhile (a return, a cancel) left less than this amount.
                raise GoodwillExceedsRoom(max(over.paid_fen - over.committed_fen, 0)) from None
            row.refund_id = refund.id
        row.status, row.decided_by, row.decided_at = status, _actor_name(actor), now
        audit.record(
            session,
            actor,
            f"goodwill.{action}d",
            subject="goodwill",
            subject_id=row.id,
            order_id=row.order_id,
            before=before,
            after={"status": str(status), "amount_fen": row.amount_fen},
            at=now,
        )
        return GoodwillOutcome(row.id, status, row.amount_fen)


@dataclass(frozen=True)
class GoodwillView:
    id: int
    order_id: int
    public_no: str
    amount_fen: int
    reason: str
    status: GoodwillStatus
    requested_by: str
    decided_by: str | None
    created_at: datetime
    refund_status: RefundState | None


def _views(session: Session, where: object) -> list[GoodwillView]:
    rows = session.execute(
        select(GoodwillRefund, Order.public_no, Refund.status)
        .join(Order, Order.id == GoodwillRefund.order_id)
        .outerjoin(Refund, Refund.id == GoodwillRefund.refund_id)
        .where(where)  # type: ignore[arg-type]
        .order_by(GoodwillRefund.created_at, GoodwillRefund.id)
        .limit(200)
    ).all()
    return [
        GoodwillView(
            g.id,
            g.order_id,
            public_no,
            g.amount_fen,
            g.reason,
            GoodwillStatus(g.status),
            g.requested_by,
            g.decided_by,
            g.created_at,
            RefundState(refund_status) if refund_status else None,
        )
        for g, public_no, refund_status in rows
    ]


def list_awaiting(database: Database) -> list[GoodwillView]:
    with database.read() as session:
        return _views(session, GoodwillRefund.status == GoodwillStatus.AWAITING_APPROVAL)


@dataclass(frozen=True)
class OrderGoodwill:
    rows: tuple[GoodwillView, ...]
    room_fen: int
    payable: bool


def order_goodwill(database: Database, order_id: int) -> OrderGoodwill:
    with database.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise OrderNotFound(order_id)
        method = PaymentMethod(order.payment_method) if order.payment_method else None
        payable = order.paid_fen > 0 and method in payouts.GATEWAY_FOR
        rows = tuple(_views(session, GoodwillRefund.order_id == order_id))
        return OrderGoodwill(rows, room_fen(session, order), payable)
