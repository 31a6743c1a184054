"""The warehouse pack scan: mark the order packed and freeze its address, atomically."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit
from backend import warehouse_logins as scope
from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.db import Database
from backend.logistics.models import Shipment, ShipmentDirection
from backend.orders.holds import HOLD_TEAM
from backend.orders.lifecycle import OrderAction, OrderStatus, can
from backend.orders.models import AddressVersion, HoldReason, Order
from backend.orders.service import transition
from backend.staff.permissions import Permission, check_permission

MAX_CODE_LENGTH = 40


class ParcelNotFound(Exception):
    """No order or outbound waybill has that number."""


class ScanRefused(Exception):
    """The order must not be packed (cancelled, unpaid, refunded)."""

    def __init__(self, status: OrderStatus) -> None:
        super().__init__(f"order is {status}")
        self.status = status


class OrderOnHold(Exception):
    """Intake held the order (value, duplicate, stock, SKU, price): a team must release it first."""

    def __init__(self, reason: HoldReason) -> None:
        super().__init__(f"order is held: {reason}")
        self.reason = reason
        self.team = HOLD_TEAM[reason]


@dataclass(frozen=True)
class ScanResult:
    order_id: int
    public_no: str
    status: OrderStatus
    locked_at: datetime
    already_scanned: bool
    recipient_name: str
    phone: str
    address: str
    shipment_id: int | None
    carrier_code: str | None  # the page names it in the reader's language
    tracking_no: str | None
    needs_reprint: bool


def _normalize(code: str) -> str:
    return "".join(ch for ch in code if ch.isalnum() or ch == "-").upper()[:MAX_CODE_LENGTH]


def _find_order_id(session: Session, code: str) -> int | None:
    found = session.scalar(select(Order.id).where(Order.public_no == code))
    if found is None:
        found = session.scalar(
            select(Shipment.order_id).where(
                Shipment.tracking_no == code, Shipment.direction == ShipmentDirection.OUTBOUND
            )
        )
    return found


def scan_parcel(
    database: Database,
    code: str,
    actor: Actor,
    now: datetime | None = None,
    warehouse_id: int | None = None,
) -> ScanResult:
    """Order number or waybill: packed and locked in one transaction, with the row locked.

    A scanner confined to a warehouse (backend/warehouse_logins.py) finds only that warehouse's
    orders: another warehouse's parcel is "not found", and is not packed here.
    """
    check_permission(actor, Permission.SCAN_PARCELS, also=(ActorKind.SYSTEM,))
    code = _normalize(code)
    if not code:
        raise ParcelNotFound(code)
    with database.write() as session:
        order_id = _find_order_id(session, code)
        if order_id is None:
            raise ParcelNotFound(code)
        if (
            warehouse_id is not None
            and session.scalar(
                select(Order.id).where(Order.id == order_id, scope.allocated_to(warehouse_id))
            )
            is None
        ):
            raise ParcelNotFound(code)
        order = session.get(Order, order_id, with_for_update=True)
        assert order is not None
        now = now or utcnow()  # after the row lock: the lock time follows the commit order
        status = OrderStatus(order.status)
        already = order.address_locked_at is not None
        if not already:
            if not can(status, OrderAction.PACK):
                raise ScanRefused(status)
            if order.hold_reason is not None:
                raise OrderOnHold(order.hold_reason)
            order.address_locked_at = now
            transition(session, order, OrderAction.PACK, actor, now)
            audit.record(
                session,
                actor,
                "order.pack_scanned",
                subject="order",
                subject_id=order.id,
                order_id=order.id,
                at=now,
                after={"address_locked_at": now.isoformat(), "scanned": code},
            )
        address = session.get(AddressVersion, order.current_address_id)
        shipment = session.scalars(
            select(Shipment)
            .where(Shipment.order_id == order.id, Shipment.direction == ShipmentDirection.OUTBOUND)
            .order_by(Shipment.id.desc())
        ).first()
        locked_at = order.address_locked_at
        assert locked_at is not None
        return ScanResult(
            order_id=order.id,
            public_no=order.public_no,
            status=OrderStatus(order.status),
            locked_at=locked_at,
            already_scanned=already,
            recipient_name=address.recipient_name if address else "",
            phone=address.phone if address else "",
            address=(
                f"{address.province}{address.city}{address.district} {address.street}"
                if address
                else ""
            ),
            shipment_id=shipment.id if shipment else None,
            carrier_code=shipment.carrier_code if shipment else None,
            tracking_no=shipment.tracking_no if shipment else None,
            needs_reprint=bool(
                shipment and address and shipment.label_is_stale(address.created_at)
            ),
        )


def confirm_reprint(database: Database, shipment_id: int, actor: Actor) -> None:
    """The warehouse printed the label again with the current address."""
    check_permission(actor, Permission.SCAN_PARCELS)
    now = utcnow()
    with database.write() as session:
        shipment = session.get(Shipment, shipment_id, with_for_update=True)
        if shipment is None:
            raise ParcelNotFound(str(shipment_id))
        shipment.label_reprinted_at = now
        audit.record(
            session,
            actor,
            "shipment.label_reprinted",
            subject="shipment",
            subject_id=shipment.id,
            order_id=shipment.order_id,
            at=now,
        )


@dataclass(frozen=True)
class RecentScan:
    at: datetime
    order_id: int | None
    scanned: str
    by: str


def list_recent_scans(database: Database, limit: int = 15) -> list[RecentScan]:
    with database.read() as session:
        rows = session.execute(
            select(AuditEvent.at, AuditEvent.order_id, AuditEvent.after, AuditEvent.actor_id)
            .where(AuditEvent.action == "order.pack_scanned")
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        ).all()
    return [
        RecentScan(at, order_id, str((after or {}).get("scanned", "")), by)
        for at, order_id, after, by in rows
    ]
