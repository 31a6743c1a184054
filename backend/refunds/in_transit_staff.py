"""What people do with refunds in transit: call the carrier, review, and sign the parcel in.

Also what follows the money: the request and the order follow their refund's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from backend import audit
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.logistics import parcels
from backend.logistics.models import Shipment, ShipmentDirection
from backend.notifications import outbox
from backend.notifications.models import NotificationEvent
from backend.orders import warehouses
from backend.orders.lifecycle import OrderAction, OrderStatus, can
from backend.orders.models import Order
from backend.orders.service import transition
from backend.refunds import payouts
from backend.refunds.in_transit import move, release
from backend.refunds.in_transit_lifecycle import NEEDS_A_PERSON, InTransitAction, InTransitStatus
from backend.refunds.in_transit_lifecycle import can as can_move
from backend.refunds.models import InTransitRefund, Refund, RefundState
from backend.staff.permissions import Permission, check_permission

# What a person may do from the queue, by the request's state.
STAFF_ACTIONS = {
    "carrier_retried": InTransitAction.CARRIER_RETRIED,
    "advise_refuse": InTransitAction.ADVISE_REFUSE,
    "approve": InTransitAction.RELEASE,
    "reject": InTransitAction.REJECT,
}


class InTransitRequestNotFound(Exception):
    """No such request, or it is not waiting for what was asked."""


class NothingLeftToRefund(Exception):
    """Earlier refunds already paid back everything the customer paid."""


def act(
    database: Database, request_id: int, action: str, actor: Actor, *, note: str = ""
) -> InTransitStatus:
    """A person's step from the queue: called the carrier, told to refuse, approved, rejected."""
    check_permission(actor, Permission.REVIEW_REFUNDS)
    step = STAFF_ACTIONS.get(action)
    with database.write() as session:
        order_id = session.scalar(
            select(InTransitRefund.order_id).where(InTransitRefund.id == request_id)
        )
        if order_id is None or step is None:
            raise InTransitRequestNotFound(request_id)
        session.get(Order, order_id, with_for_update=True)
        request = session.get(InTransitRefund, request_id, with_for_update=True)
        assert request is not None
        if not can_move(InTransitStatus(request.status), step):
            raise InTransitRequestNotFound(request_id)
        note = note.strip()[:200]
        if step == InTransitAction.RELEASE:
            room = _room(session, order_id)
            if room <= 0:
                raise NothingLeftToRefund(order_id)
            release(session, request, min(request.amount_fen, room), actor, utcnow())
        else:
            if step == InTransitAction.REJECT:
                request.reject_reason = note or "不符合退款条件"
            elif note:
                request.carrier_note = note
            request.decided_by = f"{actor.kind}:{actor.identifier}"
            move(session, request, step, actor, note=note)
            if step == InTransitAction.ADVISE_REFUSE:
                # The parcel keeps coming: only the customer at the door can stop it now.
                outbox.notify(
                    session,
                    order_id,
                    NotificationEvent.REFUSE_DELIVERY,
                    shipment_id=request.shipment_id,
                    details={},
                    reference=f"refuse{request.id}",
                    urgent=True,
                )
        return InTransitStatus(request.status)


def _room(session: Any, order_id: int) -> int:
    order = session.get(Order, order_id)
    return int(order.paid_fen) - payouts.committed_fen(session, order_id)


def refund_settled(database: Database, payload: dict[str, Any]) -> None:
    """Job (payouts.SETTLED, beside the returns' handler): the request follows its refund;
    an order whose every parcel came back and was paid back in full is REFUNDED."""
    with database.write() as session:
        refund = session.get(Refund, payload["refund_id"])
        if refund is None or refund.return_id is not None:
            return
        order = session.get(Order, refund.order_id, with_for_update=True)
        request = session.scalars(
            select(InTransitRefund).where(InTransitRefund.refund_id == refund.id)
        ).first()
        if order is None or request is None or request.status != InTransitStatus.REFUNDING:
            return
        payouts_actor = Actor.system("payouts")
        if refund.status != RefundState.SUCCESS:
            move(session, request, InTransitAction.REFUND_FAILED, payouts_actor)
            return
        move(session, request, InTransitAction.REFUND_SUCCEEDED, payouts_actor)
        yuan, cents = divmod(refund.amount_fen, 100)
        outbox.notify(
            session,
            order.id,
            NotificationEvent.REFUND_SUCCEEDED,
            details={"amount": f"{yuan}.{cents:02d}"},
            reference=f"r{refund.id}",
        )
        if _all_came_back(session, order) and can(
            OrderStatus(order.status), OrderAction.RETURN_TO_SENDER
        ):
            transition(session, order, OrderAction.RETURN_TO_SENDER, payouts_actor)


def _all_came_back(session: Any, order: Order) -> bool:
    road = {shipment.id for shipment in parcels.outbound_parcels(session, order.id)}
    refunded = set(
        session.scalars(
            select(InTransitRefund.shipment_id).where(
                InTransitRefund.order_id == order.id,
                InTransitRefund.status == InTransitStatus.REFUNDED,
            )
        )
    )
    paid_back = payouts.committed_fen(session, order.id) >= order.paid_fen
    return bool(road) and road <= refunded and paid_back


def receive_by_waybill(database: Database, code: str, actor: Actor) -> int | None:
    """Warehouse scan of an outbound parcel that came back: its units back on sale, once.

    None when no refund in transit waits for that waybill. put_back_returned's ledger key
    (one per request and line) makes a second scan, even a concurrent one, restock nothing.
    """
    check_permission(actor, Permission.SCAN_PARCELS)
    number = "".join(ch for ch in code if ch.isalnum()).upper()[:40]
    with database.write() as session:
        request = session.scalars(
            select(InTransitRefund)
            .join(Shipment, Shipment.id == InTransitRefund.shipment_id)
            .where(
                Shipment.tracking_no == number,
                Shipment.direction == ShipmentDirection.OUTBOUND,
            )
            .with_for_update()
        ).first()
        if request is None:
            return None
        shipment = session.get(Shipment, request.shipment_id)
        assert shipment is not None
        ordered = parcels.ordered_quantities(session, request.order_id)
        contents = parcels.parcel_contents(session, [shipment], ordered)[shipment.id]
        returned = [
            warehouses.ReturnedUnits(f"in-transit:{request.id}:line:{line}", line, quantity)
            for line, quantity in sorted(contents.items())
        ]
        warehouses.put_back_returned(
            session, request.order_id, returned, True, "拦截/拒收退回", actor
        )
        if request.received_at is None:
            request.received_at = utcnow()
            audit.record(
                session,
                actor,
                "in_transit_refund.parcel_received",
                subject="in_transit_refund",
                subject_id=request.id,
                order_id=request.order_id,
                after={"tracking_no": number},
            )
        return request.id


@dataclass(frozen=True)
class QueueRow:
    """One request a person must act on, with the parcel it is about and what may be done."""

    id: int
    public_no: str
    carrier_code: str
    tracking_no: str
    status: InTransitStatus
    method: str
    amount_fen: int
    note: str
    failed_checks: tuple[str, ...]
    actions: tuple[str, ...]


def list_queue(database: Database) -> list[QueueRow]:
    """Requests a person must act on, oldest first, with the parcel they are about."""
    with database.read() as session:
        found = session.execute(
            select(InTransitRefund, Shipment.carrier_code, Shipment.tracking_no, Order.public_no)
            .join(Shipment, Shipment.id == InTransitRefund.shipment_id)
            .join(Order, Order.id == InTransitRefund.order_id)
            .where(InTransitRefund.status.in_([str(s) for s in NEEDS_A_PERSON]))
            .order_by(InTransitRefund.created_at, InTransitRefund.id)
            .limit(200)
        ).all()
        return [
            QueueRow(
                request.id,
                public_no,
                carrier_code,
                tracking_no,
                InTransitStatus(request.status),
                str(request.method),
                request.amount_fen,
                request.carrier_note or "",
                tuple(c["code"] for c in request.checks if not c["passed"]),
                tuple(
                    name
                    for name, step in STAFF_ACTIONS.items()
                    if can_move(InTransitStatus(request.status), step)
                ),
            )
            for request, carrier_code, tracking_no, public_no in found
        ]
