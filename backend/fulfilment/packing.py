"""Pack and ship at the warehouse: book the parcel's waybill at the carrier, then record it.

The booking is an outbound call, so it happens outside any transaction: first the carrier,
with an idempotency key (order number and parcel number) that gives the same waybill
again on a retry, then `record_waybill_in` and the label in one transaction. A crash
between the two is healed by confirming again: the same key, the same number, one parcel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.fulfilment.waybills import (
    SHIPPABLE,
    Refusal,
    WaybillRefused,
    WaybillSource,
    lines_for,
    record_waybill_in,
)
from backend.logistics import parcels
from backend.logistics.models import ParcelLabel, Shipment, ShipmentDirection
from backend.logistics.service import CARRIER_HAS_IT
from backend.logistics.waybills.base import (
    BookedWaybill,
    CarrierRejected,
    CarrierUnavailable,
    Label,
    Party,
    WaybillItem,
    WaybillRequest,
)
from backend.logistics.waybills.registry import WaybillBookers
from backend.orders.models import (
    AddressVersion,
    Order,
    OrderLine,
    Reservation,
    ReservationState,
    Warehouse,
)
from backend.orders.service import OrderNotFound
from backend.staff.permissions import Permission, check_permission


class PackRefusal(StrEnum):
    STALE = "stale"  # another parcel was packed since the lines were shown: scan again
    NOT_BOOKED = "not_booked"  # the waybill was not booked here: nothing to reprint or void
    COLLECTED = "collected"  # the carrier has the parcel: too late to void
    VOIDED = "voided"  # the label was voided: nothing to reprint
    # The lines are reserved at two warehouses: a parcel leaves from one, and its label
    # names that one as sender, so each warehouse packs its own lines.
    TWO_WAREHOUSES = "two_warehouses"


class PackRefused(Exception):
    def __init__(self, reason: PackRefusal) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True)
class PackingConfig:
    """Made from the settings in one place: the carrier booked by default, and the sender."""

    default_carrier: str
    sender: Party


def reserved_at(session: Session, order_id: int) -> dict[int, Warehouse]:
    """Each line's warehouse: where its units are reserved. Allocation places a line whole at
    one warehouse (allocation.plan_order), so there is one per line, or none."""
    rows = session.execute(
        select(Reservation.order_line_id, Warehouse)
        .join(Warehouse, Warehouse.id == Reservation.warehouse_id)
        .where(
            Reservation.order_id == order_id,
            Reservation.state == ReservationState.RESERVED,
        )
        .order_by(Reservation.id)
    ).all()
    found: dict[int, Warehouse] = {}
    for line_id, warehouse in rows:
        if line_id is not None:  # rows from before warehouses may name no line
            found.setdefault(line_id, warehouse)
    return found


def sender_for(
    session: Session, config: PackingConfig, order: Order, lines: Mapping[int, int]
) -> Party:
    """Who the label names as sender: the warehouse the parcel's lines are reserved at,
    when it has an address; otherwise the sender from the settings. Refuses lines reserved
    at two warehouses: no one label can name both."""
    at = reserved_at(session, order.id)
    warehouses = {at[line].id: at[line] for line in lines if line in at}
    if len(warehouses) > 1:
        raise PackRefused(PackRefusal.TWO_WAREHOUSES)
    warehouse = next(iter(warehouses.values()), None)
    if warehouse is None or not (warehouse.street and warehouse.phone):
        return config.sender
    return Party(
        name=warehouse.contact_name or warehouse.name,
        phone=warehouse.phone,
        province=warehouse.province,
        city=warehouse.city,
        district=warehouse.district,
        street=warehouse.street,
        company=config.sender.company,
    )


def order_key(public_no: str, parcel_no: int) -> str:
    return f"{public_no}-{parcel_no}"


@dataclass(frozen=True)
class ParcelView:
    shipment_id: int
    carrier_code: str
    tracking_no: str
    booked: bool  # booked here: it can be reprinted and voided
    voided: bool
    collected: bool
    printed: bool  # the label went to a cloud printer


@dataclass(frozen=True)
class PackLine:
    order_line_id: int
    sku: str
    name: str
    left: int  # units no parcel carries yet
    warehouse: str  # the name of the warehouse its units are reserved at; "" when none
    take: int  # what the form offers to put in this parcel


@dataclass(frozen=True)
class PackForm:
    """What the packer sees after the scan: lines with units left, this parcel's number.

    An order split across warehouses is offered one warehouse's lines at a time (the first
    line's warehouse first); the other warehouses' lines show, at 0, for their own parcel.
    """

    order_id: int
    public_no: str
    parcel_no: int
    lines: tuple[PackLine, ...]
    open: bool
    parcels: tuple[ParcelView, ...]


@dataclass(frozen=True)
class BookedParcel:
    shipment_id: int
    order_id: int
    public_no: str
    carrier_code: str
    tracking_no: str
    printed: bool
    print_task_id: str | None
    has_pdf: bool
    created: bool  # False: this parcel was booked already (a double tap, a retry)


def _outbound(session: Session, order_id: int) -> list[Shipment]:
    return list(
        session.scalars(
            select(Shipment)
            .where(Shipment.order_id == order_id, Shipment.direction == ShipmentDirection.OUTBOUND)
            .order_by(Shipment.id)
        )
    )


def _next_parcel_no(session: Session, order_id: int) -> int:
    """Voided parcels count too: their key gave a number the carrier would hand back
    (docs/protocols.md, "Kuaidi100 e-waybill / Cancel")."""
    counted = session.scalar(
        select(func.count(Shipment.id)).where(
            Shipment.order_id == order_id, Shipment.direction == ShipmentDirection.OUTBOUND
        )
    )
    return int(counted or 0) + 1


def _parcel_view(shipment: Shipment, label: ParcelLabel | None) -> ParcelView:
    return ParcelView(
        shipment.id,
        shipment.carrier_code,
        shipment.tracking_no,
        label is not None,
        shipment.voided_at is not None,
        is_collected(shipment),
        bool(label and label.printed),
    )


def is_collected(shipment: Shipment) -> bool:
    return shipment.shipped_at is not None or shipment.status in CARRIER_HAS_IT


def pack_form(database: Database, order_id: int) -> PackForm | None:
    with database.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            return None
        left = parcels.unassigned_quantities(session, order_id)
        rows = session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
        )
        waiting = [row for row in rows if row.id in left]
        at = reserved_at(session, order_id)
        first = next((at[row.id].id for row in waiting if row.id in at), None)
        lines = tuple(
            PackLine(
                row.id,
                row.sku,
                row.name,
                left[row.id],
                at[row.id].name if row.id in at else "",
                left[row.id] if row.id not in at or at[row.id].id == first else 0,
            )
            for row in waiting
        )
        shipments = _outbound(session, order_id)
        labels = {
            label.shipment_id: label
            for label in session.scalars(
                select(ParcelLabel).where(ParcelLabel.shipment_id.in_([s.id for s in shipments]))
            )
        }
        shippable = order.status in SHIPPABLE and order.hold_reason is None
        return PackForm(
            order.id,
            order.public_no,
            len(shipments) + 1,
            lines,
            shippable and bool(lines),
            tuple(_parcel_view(s, labels.get(s.id)) for s in shipments),
        )


@dataclass(frozen=True)
class _Plan:
    request: WaybillRequest
    lines: dict[int, int]
    origin_province: str


def _booked(session: Session, key: str, created: bool) -> BookedParcel | None:
    label = session.scalar(select(ParcelLabel).where(ParcelLabel.order_key == key))
    if label is None:
        return None
    shipment = session.get(Shipment, label.shipment_id)
    assert shipment is not None
    order = session.get(Order, shipment.order_id)
    assert order is not None
    return BookedParcel(
        shipment.id,
        order.id,
        order.public_no,
        shipment.carrier_code,
        shipment.tracking_no,
        label.printed,
        label.print_task_id,
        label.pdf is not None or bool(label.label_url and not label.printed),
        created,
    )


def _recipient(session: Session, order: Order) -> Party:
    address = session.get(AddressVersion, order.current_address_id)
    if address is None:
        raise WaybillRefused(Refusal.NOT_SHIPPABLE)
    return Party(
        address.recipient_name,
        address.phone,
        address.province,
        address.city,
        address.district,
        address.street,
    )


def _plan(
    session: Session,
    config: PackingConfig,
    order: Order,
    parcel_no: int,
    carrier_code: str,
    wanted: Mapping[int, int] | None,
) -> _Plan:
    if order.hold_reason is not None:
        raise WaybillRefused(Refusal.ON_HOLD, hold=order.hold_reason)
    if order.status not in SHIPPABLE:
        raise WaybillRefused(Refusal.NOT_SHIPPABLE, status=order.status)
    left = parcels.unassigned_quantities(session, order.id)
    if not left:
        raise WaybillRefused(Refusal.NOTHING_LEFT, status=order.status)
    if parcel_no != _next_parcel_no(session, order.id):
        raise PackRefused(PackRefusal.STALE)
    carried = lines_for(wanted, left)
    names = dict(
        session.execute(
            select(OrderLine.id, OrderLine.name).where(OrderLine.order_id == order.id)
        ).all()
    )
    sender = sender_for(session, config, order, carried)
    request = WaybillRequest(
        order_key=order_key(order.public_no, parcel_no),
        carrier_code=carrier_code,
        sender=sender,
        recipient=_recipient(session, order),
        items=tuple(WaybillItem(names[line], units) for line, units in sorted(carried.items())),
    )
    return _Plan(request, carried, sender.province)


def _label_pdf(bookers: WaybillBookers, booked: BookedWaybill) -> bytes | None:
    """The PDF now if the carrier only sent a link; a failure here only delays it."""
    if booked.label.pdf is not None or booked.label.printed or not booked.label.url:
        return booked.label.pdf
    try:
        return bookers.for_carrier(booked.carrier_code).reprint(booked).pdf
    except (CarrierUnavailable, CarrierRejected):
        return None  # fetched again when the label is opened


def book_parcel(
    database: Database,
    bookers: WaybillBookers,
    config: PackingConfig,
    order_id: int,
    parcel_no: int,
    actor: Actor,
    *,
    carrier_code: str = "",
    lines: Mapping[int, int] | None = None,
) -> BookedParcel:
    """Book parcel `parcel_no` of the order at the carrier and record it with its label.

    Raises WaybillRefused / PackRefused before anything is booked, WaybillNotConfigured,
    CarrierRejected (the provider's message) or CarrierUnavailable with nothing stored.
    """
    check_permission(actor, Permission.SCAN_PARCELS)
    carrier_code = (carrier_code or config.default_carrier).strip().lower()
    with database.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise OrderNotFound(order_id)
        public_no = order.public_no
        done = _booked(session, order_key(public_no, parcel_no), created=False)
        if done is not None:
            return done
        plan = _plan(session, config, order, parcel_no, carrier_code, lines)
    booker = bookers.for_carrier(carrier_code)
    booked = booker.book(plan.request)
    pdf = _label_pdf(bookers, booked)
    with database.write() as session:
        recorded = record_waybill_in(
            session,
            order_id,
            booked.carrier_code,
            booked.tracking_no,
            actor,
            source=WaybillSource.BOOKED,
            lines=plan.lines,
            shipped=False,
            origin_province=plan.origin_province,
        )
        if session.get(ParcelLabel, recorded.shipment_id) is None:
            _keep_label(session, recorded.shipment_id, booker.provider, booked, pdf, actor)
        result = _booked(session, booked.order_key, created=recorded.created)
    assert result is not None
    return result


def _keep_label(
    session: Session,
    shipment_id: int,
    provider: str,
    booked: BookedWaybill,
    pdf: bytes | None,
    actor: Actor,
) -> None:
    now = utcnow()
    session.add(
        ParcelLabel(
            shipment_id=shipment_id,
            order_key=booked.order_key,
            provider=provider,
            provider_order_id=booked.provider_order_id,
            label_url=booked.label.url,
            print_task_id=booked.label.print_task_id,
            printed=booked.label.printed,
            pdf=pdf,
            booked_at=now,
        )
    )
    shipment = session.get(Shipment, shipment_id)
    assert shipment is not None
    audit.record(
        session,
        actor,
        "shipment.label_booked",
        subject="shipment",
        subject_id=shipment_id,
        order_id=shipment.order_id,
        at=now,
        after={
            "provider": provider,
            "order_key": booked.order_key,
            "printed": booked.label.printed,
            "print_task_id": booked.label.print_task_id,
        },
    )
    session.flush()


def stored_waybill(shipment: Shipment, label: ParcelLabel) -> BookedWaybill:
    """The booked waybill as the booker wants it back, to reprint or cancel."""
    return BookedWaybill(
        carrier_code=shipment.carrier_code,
        tracking_no=shipment.tracking_no,
        order_key=label.order_key,
        label=Label(
            pdf=label.pdf,
            url=label.label_url,
            print_task_id=label.print_task_id,
            printed=label.printed,
        ),
        provider_order_id=label.provider_order_id,
    )
