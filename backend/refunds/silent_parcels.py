"""Return parcels the carrier has gone quiet on: the staff check queue and its one verb."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from backend import audit
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.logistics.models import Shipment
from backend.orders.masking import mask_name, mask_phone
from backend.orders.models import Customer, Order
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.models import ReturnRequest
from backend.refunds.service import ReturnNotFound
from backend.staff.permissions import Permission, check_permission

# A rejected request has no parcel to wait for; every other status may still be owed one
# (极速退款 pays before the parcel arrives, so REFUNDING/REFUNDED can still be on the road).
_NOT_WAITING = (ReturnStatus.REJECTED,)


@dataclass(frozen=True)
class SilentReturnParcel:
    return_id: int
    order_id: int
    public_no: str
    customer_name: str  # masked
    customer_phone: str  # masked
    carrier_code: str
    tracking_no: str
    since: datetime  # last tracking event, or when the waybill was entered, or the last check
    refund_fen: int  # what the customer is owed (or was paid) once the parcel is in
    status: ReturnStatus

    def silent_for(self, now: datetime) -> timedelta:
        return now - self.since

    def days_silent(self, now: datetime) -> int:
        return self.silent_for(now).days


def _silent_since(
    last_event_at: datetime | None, created_at: datetime, checked_at: datetime | None
) -> datetime:
    """A staff check restarts the clock: the parcel comes back only if it stays quiet again."""
    anchor = last_event_at or created_at
    return max(anchor, checked_at) if checked_at is not None else anchor


def list_silent_return_parcels(
    database: Database, silent_after: timedelta, now: datetime | None = None
) -> list[SilentReturnParcel]:
    """Return parcels not yet signed in or inspected whose tracking has said nothing for
    `silent_after`, quietest first."""
    now = now or utcnow()
    statement = (
        select(
            ReturnRequest.id,
            ReturnRequest.order_id,
            ReturnRequest.status,
            ReturnRequest.amount_fen,
            ReturnRequest.approved_amount_fen,
            ReturnRequest.parcel_checked_at,
            Order.public_no,
            Customer.name,
            Customer.phone,
            Shipment.carrier_code,
            Shipment.tracking_no,
            Shipment.last_event_at,
            Shipment.created_at,
        )
        .join(Shipment, Shipment.id == ReturnRequest.return_shipment_id)
        .join(Order, Order.id == ReturnRequest.order_id)
        .join(Customer, Customer.id == ReturnRequest.customer_id)
        .where(
            ReturnRequest.parcel_received_at.is_(None),
            ReturnRequest.inspected_at.is_(None),
            ReturnRequest.status.not_in([str(s) for s in _NOT_WAITING]),
            Shipment.delivered_at.is_(None),
            Shipment.voided_at.is_(None),
        )
    )
    with database.read() as session:
        rows = session.execute(statement).all()
    parcels = [
        SilentReturnParcel(
            return_id=row.id,
            order_id=row.order_id,
            public_no=row.public_no,
            customer_name=mask_name(row.name or ""),
            customer_phone=mask_phone(row.phone or ""),
            carrier_code=row.carrier_code,
            tracking_no=row.tracking_no,
            since=_silent_since(row.last_event_at, row.created_at, row.parcel_checked_at),
            refund_fen=row.approved_amount_fen or row.amount_fen,
            status=ReturnStatus(row.status),
        )
        for row in rows
    ]
    return sorted(
        (parcel for parcel in parcels if parcel.silent_for(now) > silent_after),
        key=lambda parcel: parcel.since,
    )


def mark_return_parcel_checked(database: Database, return_id: int, note: str, actor: Actor) -> None:
    """Staff looked into a quiet return parcel (called the customer, asked the carrier)."""
    check_permission(actor, Permission.REVIEW_REFUNDS)
    note = " ".join(note.split())[:200]
    with database.write() as session:
        request = session.get(ReturnRequest, return_id, with_for_update=True)
        waiting = (
            request is not None
            and request.return_shipment_id is not None
            and request.parcel_received_at is None
            and request.inspected_at is None
        )
        if request is None or not waiting:
            raise ReturnNotFound(return_id)
        before = {
            "checked_at": request.parcel_checked_at.isoformat()
            if request.parcel_checked_at
            else None
        }
        request.parcel_checked_at = utcnow()
        request.parcel_check_note = note or None
        audit.record(
            session,
            actor,
            "return.parcel_checked",
            subject="return",
            subject_id=return_id,
            order_id=request.order_id,
            before=before,
            after={"checked_at": request.parcel_checked_at.isoformat(), "note": note},
        )
