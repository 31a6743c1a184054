"""Return requests: filed with photos, decided by the rules or by staff, refunded once.

Each verb is one transaction with its audit event; the money moves in payouts.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.notifications import outbox
from backend.notifications.models import NotificationEvent
from backend.orders.lifecycle import OrderAction, OrderStatus, can
from backend.orders.models import Order, OrderLine
from backend.orders.service import OrderNotFound, transition
from backend.refunds import cancellation, payouts, photo_matches
from backend.refunds.lifecycle import (
    ReturnAction,
    ReturnStatus,
    next_status,
)
from backend.refunds.models import Refund, RefundState, ReturnLine, ReturnPhoto, ReturnRequest
from backend.refunds.rules import Decision, Outcome, RefundFacts, RefundRules, RefundType, decide
from backend.staff.permissions import Permission, check_permission

REVIEW_PROMISE = timedelta(hours=48)
RETURNABLE = frozenset({OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.AFTER_SALE})


class ReturnNotAllowed(Exception):
    """The order is not in a state a return can be filed for."""


class ReturnInvalid(Exception):
    """The request breaks a hard rule (photos missing, quantity too high ...)."""

    def __init__(self, code: str, decision: Decision | None = None) -> None:
        super().__init__(code)
        self.code, self.decision = code, decision


class ReturnNotFound(Exception):
    """No such return for this customer, or not waiting for what was asked."""


@dataclass(frozen=True)
class FiledReturn:
    return_id: int
    status: ReturnStatus
    decision: Decision


def _returned_so_far(session: Session, order_id: int) -> dict[int, int]:
    rows = session.execute(
        select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
        .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
        .where(ReturnRequest.order_id == order_id, ReturnRequest.status != ReturnStatus.REJECTED)
        .group_by(ReturnLine.order_line_id)
    ).all()
    return {line_id: int(quantity) for line_id, quantity in rows}


def _amount(session: Session, order_id: int, quantities: dict[int, int]) -> int:
    lines = {
        line.id: line
        for line in session.scalars(select(OrderLine).where(OrderLine.order_id == order_id))
    }
    already = _returned_so_far(session, order_id)
    amount = 0
    for line_id, quantity in quantities.items():
        line = lines.get(line_id)
        if line is None or quantity <= 0:
            raise ReturnInvalid("line_unknown")
        if quantity > line.quantity - already.get(line_id, 0):
            raise ReturnInvalid("quantity_too_high")
        amount += quantity * line.unit_price_fen
    if not amount:
        raise ReturnInvalid("nothing_selected")
    return amount


def _recent_refunds(session: Session, customer_id: int, now: datetime, days: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ReturnRequest)
            .where(
                ReturnRequest.customer_id == customer_id,
                ReturnRequest.created_at > now - timedelta(days=days),
                ReturnRequest.status.not_in([ReturnStatus.REJECTED, ReturnStatus.IN_REVIEW]),
            )
        )
        or 0
    )


def file_return(
    database: Database,
    order_id: int,
    customer_id: int,
    quantities: dict[int, int],
    refund_type: RefundType,
    reason: str,
    description: str,
    photo_ids: list[int],
    rules: RefundRules,
    actor: Actor,
    *,
    now: datetime | None = None,
    review_only: bool = False,
    earlier_photos: list[int] | None = None,
) -> FiledReturn:
    """The customer's request: checked by the rules, approved at once or sent to staff."""
    with database.write() as session:
        return _file(
            session,
            order_id,
            customer_id,
            quantities,
            refund_type,
            reason,
            description,
            photo_ids,
            rules,
            actor,
            now=now or utcnow(),
            review_only=review_only,
            earlier_photos=earlier_photos,
        )


def _file(
    session: Session,
    order_id: int,
    customer_id: int,
    quantities: dict[int, int],
    refund_type: RefundType,
    reason: str,
    description: str,
    photo_ids: list[int],
    rules: RefundRules,
    actor: Actor,
    *,
    now: datetime,
    review_only: bool = False,
    earlier_photos: list[int] | None = None,
    resubmitted_from: int | None = None,
) -> FiledReturn:
    order = session.get(Order, order_id, with_for_update=True)
    if order is None or order.customer_id != customer_id:
        raise OrderNotFound(order_id)
    if OrderStatus(order.status) not in RETURNABLE:
        raise ReturnNotAllowed(str(order.status))
    amount = _amount(session, order_id, quantities)
    if payouts.committed_fen(session, order_id) + amount > order.paid_fen:
        raise payouts.RefundExceedsPayment(order.paid_fen, 0, amount)
    photos = (
        list(
            session.scalars(
                select(ReturnPhoto).where(
                    ReturnPhoto.id.in_(photo_ids),
                    ReturnPhoto.order_id == order_id,
                    ReturnPhoto.return_id.is_(None),
                )
            )
        )
        if photo_ids
        else []
    )
    copies = photo_matches.mark_copies(session, order_id, quantities, photos, now)
    decision = decide(
        RefundFacts(
            amount_fen=amount,
            delivered_at=order.delivered_at,
            now=now,
            recent_refunds=_recent_refunds(
                session, customer_id, now, rules.recent_refunds_window_days
            ),
            risk_flag=order.risk_flag,
            reason=reason,
            has_photos=bool(photos) or bool(earlier_photos),
            refund_type=refund_type,
            reused_photos=copies.reused,
            catalogue_copies=copies.catalogue,
        ),
        rules,
    )
    if decision.outcome == Outcome.REJECT_INVALID:
        raise ReturnInvalid(decision.failed[0].code, decision)
    request = ReturnRequest(
        order_id=order_id,
        customer_id=customer_id,
        refund_type=str(refund_type),
        reason=reason,
        description=description,
        amount_fen=amount,
        created_at=now,
        status=ReturnStatus.IN_REVIEW,
        checks=_checks(decision),
        rules_version=rules.rules_version,
        review_due_at=now + REVIEW_PROMISE,
        resubmitted_from=resubmitted_from,
    )
    session.add(request)
    session.flush()
    for line_id, quantity in quantities.items():
        session.add(ReturnLine(return_id=request.id, order_line_id=line_id, quantity=quantity))
    for photo in photos:
        photo.return_id = request.id
    if can(OrderStatus(order.status), OrderAction.OPEN_AFTER_SALE):
        transition(session, order, OrderAction.OPEN_AFTER_SALE, actor, now)
    audit.record(
        session,
        actor,
        "return.filed",
        subject="return",
        subject_id=request.id,
        order_id=order_id,
        at=now,
        after={
            "amount_fen": amount,
            "outcome": str(decision.outcome),
            "reason": reason,
            "type": str(refund_type),
            "copied_photos": copies.reused + copies.catalogue,
        },
    )
    # A request asked again after a person said no goes back to a person.
    if decision.outcome == Outcome.AUTO_APPROVE and not review_only:
        _approve(session, request, amount, Actor.system("refund-rules"), now)
    return FiledReturn(request.id, ReturnStatus(request.status), decision)


def _checks(decision: Decision) -> list[dict[str, Any]]:
    return [{"code": c.code, "passed": c.passed, "params": dict(c.params)} for c in decision.checks]


def move(request: ReturnRequest, action: ReturnAction) -> None:
    request.status = next_status(ReturnStatus(request.status), action)


def _approve(
    session: Session, request: ReturnRequest, amount: int, actor: Actor, now: datetime
) -> None:
    request.approved_amount_fen = amount
    request.decided_by, request.decided_at = f"{actor.kind}:{actor.identifier}", now
    request.review_due_at = None
    move(request, ReturnAction.APPROVE)
    audit.record(
        session,
        actor,
        "return.approved",
        subject="return",
        subject_id=request.id,
        order_id=request.order_id,
        at=now,
        after={"amount_fen": amount},
    )
    if request.refund_type == RefundType.REFUND_ONLY:
        move(request, ReturnAction.START_REFUND)
        payouts.start_refund(
            session, request.order_id, amount, actor, return_id=request.id, now=now
        )
    else:
        move(request, ReturnAction.WAIT_FOR_PARCEL)


def review_return(
    database: Database,
    return_id: int,
    approve: bool,
    actor: Actor,
    *,
    amount_fen: int | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> ReturnStatus:
    """Staff decide: approve (in full or in part) or reject with a reason the customer sees."""
    check_permission(actor, Permission.REVIEW_REFUNDS)
    with database.write() as session:
        order_id = session.scalar(
            select(ReturnRequest.order_id).where(ReturnRequest.id == return_id)
        )
        if order_id is None:
            raise ReturnNotFound(return_id)
        session.get(Order, order_id, with_for_update=True)
        request = session.get(ReturnRequest, return_id)
        assert request is not None
        if request.status != ReturnStatus.IN_REVIEW:
            raise ReturnNotFound(return_id)
        now = now or utcnow()
        if approve:
            amount = request.amount_fen if amount_fen is None else amount_fen
            if not 0 < amount <= request.amount_fen:
                raise ReturnInvalid("amount_out_of_range")
            _approve(session, request, amount, actor, now)
        else:
            move(request, ReturnAction.REJECT)
            request.reject_reason = reason.strip()[:200] or "不符合退款条件"
            request.decided_by, request.decided_at = f"{actor.kind}:{actor.identifier}", now
            request.review_due_at = None
            audit.record(
                session,
                actor,
                "return.rejected",
                subject="return",
                subject_id=request.id,
                order_id=order_id,
                at=now,
                after={"reason": request.reject_reason},
            )
        return ReturnStatus(request.status)


def refund_settled(database: Database, payload: dict[str, Any]) -> None:
    """Job (payouts.SETTLED): the return and the order follow their refund's outcome."""
    with database.write() as session:
        refund = session.get(Refund, payload["refund_id"])
        if refund is None:
            return
        if refund.return_id is None:
            cancellation.refund_settled(session, refund)  # a cancel's refund, or none
            return
        order = session.get(Order, refund.order_id, with_for_update=True)
        request = session.get(ReturnRequest, refund.return_id)
        assert order is not None and request is not None
        if request.status != ReturnStatus.REFUNDING:
            return  # already moved: the job ran before
        system = Actor.system("payouts")
        if refund.status == RefundState.SUCCESS:
            move(request, ReturnAction.REFUND_SUCCEEDED)
            action = (
                OrderAction.REFUND_IN_FULL
                if payouts.committed_fen(session, order.id) >= order.paid_fen
                else OrderAction.CLOSE_AFTER_SALE
            )
            if can(OrderStatus(order.status), action):
                transition(session, order, action, system)
        elif refund.status in (RefundState.FAILED, RefundState.CLOSED, RefundState.ABNORMAL):
            move(request, ReturnAction.REFUND_FAILED)
        if refund.status == RefundState.SUCCESS:
            yuan, cents = divmod(refund.amount_fen, 100)
            outbox.notify(
                session,
                order.id,
                NotificationEvent.REFUND_SUCCEEDED,
                details={"amount": f"{yuan}.{cents:02d}"},
                reference=f"r{refund.id}",
            )


def ask_again(
    database: Database,
    return_id: int,
    customer_id: int,
    description: str,
    photo_ids: list[int],
    rules: RefundRules,
    actor: Actor,
) -> FiledReturn:
    """A rejected request may be asked again once, with more words and photos.

    One transaction with the rejected request's row locked, and a unique index on
    `resubmitted_from` behind it: of any number of simultaneous tries, one files.
    """
    try:
        with database.write() as session:
            request = session.get(ReturnRequest, return_id, with_for_update=True)
            if request is None or request.customer_id != customer_id:
                raise ReturnNotFound(return_id)
            again = session.scalar(
                select(ReturnRequest.id).where(ReturnRequest.resubmitted_from == return_id)
            )
            if request.status != ReturnStatus.REJECTED or again or request.resubmitted_from:
                raise ReturnInvalid("already_asked_again")
            lines = dict(
                session.execute(
                    select(ReturnLine.order_line_id, ReturnLine.quantity).where(
                        ReturnLine.return_id == return_id
                    )
                ).all()
            )
            earlier = list(
                session.scalars(select(ReturnPhoto.id).where(ReturnPhoto.return_id == return_id))
            )
            return _file(
                session,
                request.order_id,
                customer_id,
                lines,
                request.refund_type,
                request.reason,
                description,
                photo_ids,
                rules,
                actor,
                now=utcnow(),
                review_only=True,
                earlier_photos=earlier,
                resubmitted_from=return_id,
            )
    except IntegrityError as race:
        # A twin committed first; the unique index said no before anything was written.
        raise ReturnInvalid("already_asked_again") from race
