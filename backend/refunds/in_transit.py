"""仅退款 while a parcel is on the road: asked per parcel, released when it comes back.

The customer (or staff, or the cancel flow for orders already picked up) asks for each
parcel still on the road: the carrier is asked to send it back (拦截退回, Kuaidi100
RETURN_SEND_ADDR; SF only by phone, so a person) or the customer refuses it (拒收). When
tracking reports the parcel returning or refused, the refund rules release the lines of
that parcel through payouts.start_refund, or send it to a person with the reasons.
Each verb is one transaction with its audit event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.logistics import parcels
from backend.logistics.models import Shipment
from backend.logistics.service import is_refused
from backend.logistics.status import TrackingStatus
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, OrderLine, PaymentMethod
from backend.orders.service import OrderNotFound
from backend.refunds import payouts
from backend.refunds.in_transit_lifecycle import (
    InTransitAction,
    InTransitMethod,
    InTransitStatus,
    first_status,
    next_status,
)
from backend.refunds.models import InTransitRefund
from backend.refunds.rules import (
    IN_TRANSIT_RULES,
    Decision,
    Outcome,
    RefundFacts,
    RefundRules,
    RefundType,
    decide,
)
from backend.refunds.service import _recent_refunds
from backend.staff.permissions import Permission, check_permission

ASK_CARRIER = "refunds.in_transit_intercept"
# Orders whose parcels may be on the road: a split order is partly shipped.
ON_THE_ROAD_ORDERS = frozenset({OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED})
# The carrier has the parcel and it has not arrived, come back or been refused.
ON_THE_ROAD = frozenset(
    {
        TrackingStatus.PICKED_UP,
        TrackingStatus.IN_TRANSIT,
        TrackingStatus.CUSTOMS,
        TrackingStatus.OUT_FOR_DELIVERY,
        TrackingStatus.AVAILABLE_FOR_PICKUP,
        TrackingStatus.FAILED_ATTEMPT,
        TrackingStatus.EXCEPTION,
    }
)
# SF's intercept service (EXP_RECE_WANTED_INTERCEPT) is not documented well enough to call
# (docs/protocols.md); the demo carrier has nobody to ask. A person phones them instead.
ASKED_BY_PHONE = frozenset({"shunfeng", "sandbox"})


class InTransitNotAllowed(Exception):
    """This parcel can't be asked for: delivered, not yet picked up, or asked already."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class InTransitInvalid(Exception):
    """The request breaks a hard rule (unknown reason, nothing left to refund ...)."""

    def __init__(self, code: str, decision: Decision | None = None) -> None:
        super().__init__(code)
        self.code, self.decision = code, decision


def why_not(order_status: OrderStatus, shipment: Shipment, asked: bool) -> str | None:
    """None when this parcel may be asked for; else the refusal's code (also for the page)."""
    if asked:
        return "already_asked"
    if order_status not in ON_THE_ROAD_ORDERS or shipment.voided_at is not None:
        return "order_not_on_the_road"
    if shipment.status == TrackingStatus.DELIVERED:
        return "delivered"
    if shipment.shipped_at is None or shipment.status not in ON_THE_ROAD or is_refused(shipment):
        return "parcel_not_on_the_road"
    return None


def _check_actor(actor: Actor, order: Order) -> None:
    check_permission(actor, Permission.REVIEW_REFUNDS, also=(ActorKind.CUSTOMER,))
    if actor.kind == ActorKind.CUSTOMER and actor.identifier != f"customer:{order.public_no}":
        raise OrderNotFound(order.id)


def parcel_amounts(session: Session, order: Order, shipments: list[Shipment]) -> dict[int, int]:
    """Per shipment id, the price of the lines it carries, in fen."""
    ordered = parcels.ordered_quantities(session, order.id)
    prices = dict(
        session.execute(
            select(OrderLine.id, OrderLine.unit_price_fen).where(OrderLine.order_id == order.id)
        ).all()
    )
    contents = parcels.parcel_contents(session, shipments, ordered)
    return {
        shipment_id: sum(quantity * prices[line] for line, quantity in lines.items())
        for shipment_id, lines in contents.items()
    }


def _decision(
    session: Session, order: Order, amount: int, reason: str, rules: RefundRules, now: datetime
) -> Decision:
    facts = RefundFacts(
        amount_fen=amount,
        delivered_at=None,
        now=now,
        recent_refunds=_recent_refunds(
            session, order.customer_id, now, rules.recent_refunds_window_days
        ),
        risk_flag=order.risk_flag,
        reason=reason,
        has_photos=False,
        # The goods come back through the carrier, so it is a return in the rules' terms.
        refund_type=RefundType.RETURN_AND_REFUND,
    )
    return decide(facts, rules, IN_TRANSIT_RULES)


def _checks(decision: Decision) -> list[dict[str, Any]]:
    return [{"code": c.code, "passed": c.passed, "params": dict(c.params)} for c in decision.checks]


def request_in_transit_refund(
    database: Database,
    actor: Actor,
    order_id: int,
    *,
    method: InTransitMethod | str,
    reason: str,
    rules: RefundRules,
    shipment_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> list[int]:
    """One request per parcel asked for (None: every parcel on the road); their ids.

    The order row is locked and a unique index on the parcel stands behind it, so a
    repeated or racing request for the same parcel is refused and nothing is written.
    """
    method = InTransitMethod(method)
    now = now or utcnow()
    try:
        with database.write() as session:
            return _request(session, actor, order_id, method, reason, rules, shipment_ids, now)
    except IntegrityError as race:
        raise InTransitNotAllowed("already_asked") from race


def _request(
    session: Session,
    actor: Actor,
    order_id: int,
    method: InTransitMethod,
    reason: str,
    rules: RefundRules,
    shipment_ids: Iterable[int] | None,
    now: datetime,
) -> list[int]:
    order = session.get(Order, order_id, with_for_update=True)
    if order is None:
        raise OrderNotFound(order_id)
    _check_actor(actor, order)
    if order.payment_method is None or PaymentMethod(order.payment_method) not in (
        payouts.GATEWAY_FOR
    ):
        raise InTransitNotAllowed("not_refundable_here")
    road = parcels.outbound_parcels(session, order_id)
    asked = set(
        session.scalars(
            select(InTransitRefund.shipment_id).where(InTransitRefund.order_id == order_id)
        )
    )
    status = OrderStatus(order.status)
    if shipment_ids is None:
        chosen = [s for s in road if why_not(status, s, s.id in asked) is None]
        if not chosen:
            raise InTransitNotAllowed("nothing_on_the_road")
    else:
        wanted = set(shipment_ids)
        chosen = [s for s in road if s.id in wanted]
        if len(chosen) != len(wanted):
            raise InTransitNotAllowed("parcel_unknown")
        for shipment in chosen:
            problem = why_not(status, shipment, shipment.id in asked)
            if problem is not None:
                raise InTransitNotAllowed(problem)
    amounts = parcel_amounts(session, order, chosen)
    room = order.paid_fen - payouts.committed_fen(session, order_id)
    created = []
    for shipment in chosen:
        # Never more than is left of the payment (a discount, an earlier refund).
        amount = min(amounts[shipment.id], room)
        room -= max(amount, 0)
        decision = _decision(session, order, amount, reason, rules, now)
        if decision.outcome == Outcome.REJECT_INVALID:
            raise InTransitInvalid(decision.failed[0].code, decision)
        created.append(_add(session, order, shipment, method, reason, amount, decision, actor, now))
    return created


def _add(
    session: Session,
    order: Order,
    shipment: Shipment,
    method: InTransitMethod,
    reason: str,
    amount: int,
    decision: Decision,
    actor: Actor,
    now: datetime,
) -> int:
    askable = shipment.carrier_code not in ASKED_BY_PHONE
    request = InTransitRefund(
        order_id=order.id,
        shipment_id=shipment.id,
        customer_id=order.customer_id,
        method=method,
        status=first_status(method, askable),
        reason=reason,
        amount_fen=amount,
        checks=_checks(decision),
        carrier_note=None if askable or method == InTransitMethod.REFUSE else "电话联系承运商",
        created_at=now,
    )
    session.add(request)
    session.flush()
    if request.status == InTransitStatus.INTERCEPT_ASKED:
        jobs.enqueue(
            session, ASK_CARRIER, {"request_id": request.id}, key=f"intercept:{request.id}"
        )
    audit.record(
        session,
        actor,
        "in_transit_refund.requested",
        subject="in_transit_refund",
        subject_id=request.id,
        order_id=order.id,
        at=now,
        after={
            "shipment_id": shipment.id,
            "method": str(method),
            "status": str(request.status),
            "amount_fen": amount,
            "outcome": str(decision.outcome),
        },
    )
    return request.id


def move(
    session: Session, request: InTransitRefund, action: InTransitAction, actor: Actor, **after: Any
) -> None:
    before = InTransitStatus(request.status)
    request.status = next_status(before, action)
    audit.record(
        session,
        actor,
        f"in_transit_refund.{action}",
        subject="in_transit_refund",
        subject_id=request.id,
        order_id=request.order_id,
        before={"status": str(before)},
        after={"status": str(request.status), **after},
    )


def release_or_review(
    session: Session, order: Order, request: InTransitRefund, rules: RefundRules, actor: Actor
) -> None:
    """The parcel is coming back: the rules pay the parcel's lines now, or a person decides."""
    now = utcnow()
    room = order.paid_fen - payouts.committed_fen(session, order.id)
    amount = min(request.amount_fen, room)
    decision = _decision(session, order, amount, request.reason, rules, now)
    request.checks = _checks(decision)
    if decision.outcome != Outcome.AUTO_APPROVE:
        move(session, request, InTransitAction.SEND_TO_REVIEW, actor, outcome=str(decision.outcome))
        return
    release(session, request, amount, Actor.system("refund-rules"), now)


def release(
    session: Session, request: InTransitRefund, amount: int, actor: Actor, now: datetime
) -> None:
    request.decided_by = f"{actor.kind}:{actor.identifier}"
    move(session, request, InTransitAction.RELEASE, actor, amount_fen=amount)
    refund = payouts.start_refund(session, request.order_id, amount, actor, now=now)
    request.refund_id = refund.id
