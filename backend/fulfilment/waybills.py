"""Recording a waybill on an order: the one way a parcel comes into being.

A waybill booked at a carrier by the pack scan, typed by staff, imported from a file,
pushed by an ERP or WMS, or arriving with a sales channel's order update: each ends in
`record_waybill`, in one transaction. It creates the shipment with the lines it carries,
locks the address, starts tracking, moves the order as its parcels say, queues the
customer's notice and the confirmation to the sales channel, and writes an audit event.
The same waybill on the same order again changes nothing; on another order it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.logistics import parcels
from backend.logistics.carriers.names import CARRIER_NAMES
from backend.logistics.carriers.recognition import (
    PATTERNS,
    PLAUSIBLE,
    guess_carriers,
    normalize_number,
)
from backend.logistics.models import Shipment, ShipmentLine
from backend.logistics.service import add_outbound_parcel, ship_parcel
from backend.orders.holds import HOLD_TEAM, Team
from backend.orders.lifecycle import OrderAction, OrderStatus, can
from backend.orders.models import HoldReason, Order, OrderLine, SalesChannel
from backend.orders.service import OrderNotFound, transition
from backend.staff.permissions import Permission, check_permission

# The sales channel hears of every parcel (发货回传); a durable job, retried, one per parcel.
CONFIRM_SHIPMENT = "channel.confirm_shipment"
# Orders we took ourselves have no channel to tell.
UNCONFIRMED_CHANNELS = frozenset({SalesChannel.MANUAL, SalesChannel.OWN_SHOP})
MIN_DIGITS = 6
SHIPPABLE = frozenset(
    {OrderStatus.PAID, OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.PARTIALLY_SHIPPED}
)


class WaybillSource(StrEnum):
    BOOKED = "booked"  # booked at the carrier by the pack scan (电子面单)
    MANUAL = "manual"  # typed by staff on the order page
    IMPORT = "import"  # a CSV/Excel file of waybills
    ERP = "erp"  # pushed by the merchant's ERP or WMS
    CHANNEL = "channel"  # shipped by the platform or a 3PL, arriving with the order update


class Refusal(StrEnum):
    UNKNOWN_CARRIER = "unknown_carrier"
    BAD_NUMBER = "bad_number"
    NOT_THIS_CARRIERS = "not_this_carriers"  # the carrier's numbers never look like that
    USED_ON_ANOTHER_ORDER = "used_on_another_order"
    NOT_SHIPPABLE = "not_shippable"  # unpaid, cancelled, refunded, already delivered
    ON_HOLD = "on_hold"
    NOTHING_LEFT = "nothing_left"  # every line is already in a parcel
    BAD_LINES = "bad_lines"  # a line not in the order, or more units than are left


class WaybillRefused(Exception):
    """The waybill can't be recorded on that order; `reason` says why, for the page to say."""

    def __init__(
        self,
        reason: Refusal,
        *,
        status: OrderStatus | None = None,
        hold: HoldReason | None = None,
        candidates: tuple[str, ...] = (),
    ) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.candidates = candidates  # carriers the number could belong to, when unnamed
        self.status = status
        self.hold = hold
        self.team: Team | None = HOLD_TEAM[hold] if hold is not None else None


@dataclass(frozen=True)
class WaybillRecorded:
    shipment_id: int
    order_id: int
    public_no: str
    created: bool  # False: that waybill was already on this order, nothing changed
    order_status: OrderStatus


# Staff and files record waybills; the scan books them; ERPs, channels and the seed push them.
_PERMISSION = {
    WaybillSource.BOOKED: Permission.SCAN_PARCELS,
    WaybillSource.MANUAL: Permission.RECORD_WAYBILLS,
    WaybillSource.IMPORT: Permission.RECORD_WAYBILLS,
    WaybillSource.ERP: Permission.RECORD_WAYBILLS,
    WaybillSource.CHANNEL: Permission.RECORD_WAYBILLS,
}
_MACHINES = (ActorKind.SYSTEM, ActorKind.CHANNEL)


def lines_for(wanted: Mapping[int, int] | None, left: Mapping[int, int]) -> dict[int, int]:
    if not wanted:
        return dict(left)
    lines = {int(line): int(quantity) for line, quantity in wanted.items() if quantity}
    if not lines or any(
        quantity < 0 or quantity > left.get(line, 0) for line, quantity in lines.items()
    ):
        raise WaybillRefused(Refusal.BAD_LINES)
    return lines


def _carrier_for(carrier_code: str, number: str) -> str:
    """The carrier named, or the one the number's shape names; the number must fit it.

    Only shapes a carrier confirms can refuse a number: a hint must never stop a parcel.
    """
    # Every carrier's numbers are mostly digits; a word typed in the number box is not one.
    if not PLAUSIBLE.fullmatch(number) or sum(ch.isdigit() for ch in number) < MIN_DIGITS:
        raise WaybillRefused(Refusal.BAD_NUMBER)
    if not carrier_code:
        guesses = guess_carriers(number)
        if len(guesses) != 1:
            raise WaybillRefused(Refusal.UNKNOWN_CARRIER, candidates=tuple(guesses))
        carrier_code = guesses[0]
    if carrier_code not in CARRIER_NAMES:
        raise WaybillRefused(Refusal.UNKNOWN_CARRIER)
    confirmed = [p for p in PATTERNS if p.carrier_code == carrier_code and p.confirmed]
    if confirmed and not any(p.pattern.fullmatch(number) for p in confirmed):
        raise WaybillRefused(Refusal.NOT_THIS_CARRIERS)
    return carrier_code


def record_waybill(
    database: Database,
    order_id: int,
    carrier_code: str,
    tracking_no: str,
    actor: Actor,
    *,
    source: WaybillSource,
    lines: Mapping[int, int] | None = None,
    shipped: bool = True,
    at: datetime | None = None,
    origin_province: str | None = None,
) -> WaybillRecorded:
    """A parcel with `lines` (order line id -> units; None: all that is left) under a waybill.

    `shipped` says the parcel has already left (a 3PL, the platform, an ERP that reports
    outbound); a label booked here leaves when the carrier first scans it.
    """
    check_permission(actor, _PERMISSION[source], also=_MACHINES)
    with database.write() as session:
        return record_waybill_in(
            session,
            order_id,
            carrier_code,
            tracking_no,
            actor,
            source=source,
            lines=lines,
            shipped=shipped,
            at=at,
            origin_province=origin_province,
        )


def record_waybill_in(
    session: Session,
    order_id: int,
    carrier_code: str,
    tracking_no: str,
    actor: Actor,
    *,
    source: WaybillSource,
    lines: Mapping[int, int] | None = None,
    shipped: bool = True,
    at: datetime | None = None,
    origin_province: str | None = None,
) -> WaybillRecorded:
    """`record_waybill` inside the caller's transaction, for a service that stores more with it
    (the pack scan keeps the booked label); the caller has checked the permission."""
    number = normalize_number(tracking_no)
    carrier_code = _carrier_for(carrier_code.strip().lower(), number)
    order = session.get(Order, order_id, with_for_update=True)
    if order is None:
        raise OrderNotFound(order_id)
    existing = session.scalar(
        select(Shipment).where(
            Shipment.carrier_code == carrier_code, Shipment.tracking_no == number
        )
    )
    if existing is not None:
        if existing.order_id != order.id:
            raise WaybillRefused(Refusal.USED_ON_ANOTHER_ORDER)
        return WaybillRecorded(
            existing.id, order.id, order.public_no, False, OrderStatus(order.status)
        )
    status = OrderStatus(order.status)
    if order.hold_reason is not None:
        raise WaybillRefused(Refusal.ON_HOLD, hold=order.hold_reason)
    if status not in SHIPPABLE:
        raise WaybillRefused(Refusal.NOT_SHIPPABLE, status=status)
    left = parcels.unassigned_quantities(session, order.id)
    if not left:
        raise WaybillRefused(Refusal.NOTHING_LEFT, status=status)
    carried = lines_for(lines, left)
    at = at or utcnow()
    if order.address_locked_at is None:
        # The label carries the address: from here on it is frozen, as at a pack scan.
        order.address_locked_at = at
    if can(status, OrderAction.PACK):
        transition(session, order, OrderAction.PACK, actor, at)
    shipment = add_outbound_parcel(
        session, order, carrier_code, number, actor, at, origin_province, str(source)
    )
    for line_id, quantity in sorted(carried.items()):
        session.add(ShipmentLine(shipment_id=shipment.id, order_line_id=line_id, quantity=quantity))
    session.flush()
    if shipped:
        ship_parcel(session, order, shipment, actor, at)
    if order.channel not in UNCONFIRMED_CHANNELS and source != WaybillSource.CHANNEL:
        jobs.enqueue(
            session,
            CONFIRM_SHIPMENT,
            {"shipment_id": shipment.id},
            key=f"confirm:{shipment.id}",
        )
    audit.record(
        session,
        actor,
        "shipment.recorded",
        subject="shipment",
        subject_id=shipment.id,
        order_id=order.id,
        at=at,
        after={
            "source": str(source),
            "carrier": carrier_code,
            "tracking_no": number,
            "lines": {str(line): quantity for line, quantity in sorted(carried.items())},
            "shipped": shipped,
        },
    )
    return WaybillRecorded(shipment.id, order.id, order.public_no, True, OrderStatus(order.status))


@dataclass(frozen=True)
class LineLeft:
    order_line_id: int
    sku: str
    name: str
    left: int  # units no parcel carries yet


@dataclass(frozen=True)
class WaybillForm:
    """What a staff member may still put under a waybill: lines with units left, if any."""

    lines: tuple[LineLeft, ...]
    open: bool  # the order may take a waybill now (paid, not held, something left)


def waybill_form(database: Database, order_id: int) -> WaybillForm:
    with database.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            return WaybillForm((), False)
        left = parcels.unassigned_quantities(session, order_id)
        rows = session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
        )
        lines = tuple(
            LineLeft(row.id, row.sku, row.name, left[row.id]) for row in rows if row.id in left
        )
        shippable = OrderStatus(order.status) in SHIPPABLE and order.hold_reason is None
        return WaybillForm(lines, shippable and bool(lines))
