"""Returned parcels: the customer posts the item back, the carrier and the warehouse see it in."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from sqlalchemy import select

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.logistics.carriers.names import CARRIER_NAMES
from backend.logistics.models import Shipment
from backend.logistics.service import CARRIER_HAS_IT, add_return_shipment
from backend.logistics.status import TrackingStatus
from backend.orders import warehouses
from backend.refunds import payouts
from backend.refunds.lifecycle import ReturnAction, ReturnStatus, ReturnTransitionNotAllowed
from backend.refunds.models import ReturnLine, ReturnRequest
from backend.refunds.service import ReturnInvalid, ReturnNotFound, move
from backend.staff.permissions import Permission, check_permission


def receive_return(database: Database, return_id: int, actor: Actor) -> ReturnStatus:
    """The warehouse signed for the returned parcel (or the carrier delivered it back): the
    refund is released."""
    check_permission(actor, Permission.SCAN_PARCELS, also=(ActorKind.SYSTEM, ActorKind.CARRIER))
    with database.write() as session:
        request = session.get(ReturnRequest, return_id, with_for_update=True)
        if request is None:
            raise ReturnNotFound(return_id)
        already_refunding = request.status == ReturnStatus.REFUNDING
        move(request, ReturnAction.PARCEL_RECEIVED)
        request.parcel_received_at = request.parcel_received_at or utcnow()
        audit.record(
            session,
            actor,
            "return.received",
            subject="return",
            subject_id=return_id,
            order_id=request.order_id,
        )
        if not already_refunding and request.status == ReturnStatus.RECEIVED:
            move(request, ReturnAction.START_REFUND)
            payouts.start_refund(
                session,
                request.order_id,
                request.approved_amount_fen or request.amount_fen,
                actor,
                return_id=request.id,
            )
        return ReturnStatus(request.status)


def send_back(
    database: Database,
    return_id: int,
    customer_id: int,
    carrier_code: str,
    tracking_no: str,
    actor: Actor,
) -> None:
    """退货退款: the customer has posted the item; its waybill is tracked from now on."""
    tracking_no = "".join(ch for ch in tracking_no if ch.isalnum()).upper()[:40]
    if len(tracking_no) < 6 or carrier_code not in CARRIER_NAMES:
        raise ReturnInvalid("waybill_invalid")
    with database.write() as session:
        request = session.get(ReturnRequest, return_id, with_for_update=True)
        if request is None or request.customer_id != customer_id:
            raise ReturnNotFound(return_id)
        if request.status != ReturnStatus.AWAITING_PARCEL:
            raise ReturnNotFound(return_id)
        shipment = add_return_shipment(session, request.order_id, carrier_code, tracking_no, actor)
        request.return_shipment_id = shipment.id
        move(request, ReturnAction.PARCEL_SENT)


def on_return_parcel(database: Database, payload: dict[str, Any], fast_refund: bool) -> None:
    """Job (RETURN_PARCEL_MOVED): delivered back releases the refund; with 极速退款, a small
    auto-approved refund is released as soon as the carrier has the parcel."""
    status = TrackingStatus(payload["status"])
    with database.read() as session:
        return_id = session.scalar(
            select(ReturnRequest.id).where(
                ReturnRequest.return_shipment_id == payload["shipment_id"]
            )
        )
    if return_id is None:
        return
    if status == TrackingStatus.DELIVERED:
        with suppress(ReturnTransitionNotAllowed):
            receive_return(database, return_id, Actor.system("carrier"))
    elif fast_refund and status in CARRIER_HAS_IT:
        _fast_refund(database, return_id)


def _fast_refund(database: Database, return_id: int) -> None:
    with database.write() as session:
        request = session.get(ReturnRequest, return_id, with_for_update=True)
        automatic = request is not None and (request.decided_by or "").startswith("system")
        if request is None or not automatic or request.status != ReturnStatus.PARCEL_IN_TRANSIT:
            return
        move(request, ReturnAction.START_REFUND)
        payouts.start_refund(
            session,
            request.order_id,
            request.approved_amount_fen or request.amount_fen,
            Actor.system("fast-refund"),
            return_id=request.id,
        )


def receive_by_waybill(database: Database, code: str, actor: Actor) -> int | None:
    """Warehouse scan of a returned parcel: signs it in. None when it is not a return."""
    number = "".join(ch for ch in code if ch.isalnum()).upper()[:40]
    with database.read() as session:
        return_id = session.scalar(
            select(ReturnRequest.id)
            .join(Shipment, Shipment.id == ReturnRequest.return_shipment_id)
            .where(Shipment.tracking_no == number)
        )
    if return_id is None:
        return None
    with suppress(ReturnTransitionNotAllowed):
        receive_return(database, return_id, actor)
    return return_id


def record_inspection(
    database: Database,
    return_id: int,
    passed: bool,
    note: str,
    actor: Actor,
    warehouse: str | None = None,
) -> None:
    """The warehouse inspected the returned item; a problem is left for staff to act on.

    Passed units go back into stock at `warehouse` (default: where they shipped from),
    failed ones are written off with the note as reason; each returned line only once.
    """
    check_permission(actor, Permission.SCAN_PARCELS)
    with database.write() as session:
        request = session.get(ReturnRequest, return_id, with_for_update=True)
        if request is None or request.return_shipment_id is None:
            raise ReturnNotFound(return_id)
        request.inspection = "ok" if passed else f"problem: {note.strip()[:180] or '-'}"
        request.inspected_at = utcnow()
        returned = [
            warehouses.ReturnedUnits(
                f"return:{return_id}:line:{line.id}", line.order_line_id, line.quantity
            )
            for line in session.scalars(
                select(ReturnLine).where(ReturnLine.return_id == return_id).order_by(ReturnLine.id)
            )
        ]
        # Resaleable units go back where they shipped from; damaged ones are written off.
        warehouses.put_back_returned(
            session,
            request.order_id,
            returned,
            passed,
            note.strip() or "inspected",
            actor,
            warehouse,
        )
        audit.record(
            session,
            actor,
            "return.inspected",
            subject="return",
            subject_id=return_id,
            order_id=request.order_id,
            after={"passed": passed, "note": note[:180]},
        )
