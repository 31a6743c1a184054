"""Waybills that arrive from outside (an ERP or WMS push, a staff member's file): one parcel
at a time into `record_waybill`, each with an outcome the caller can show row by row.

The outside world names orders and items its own way: an order by our public number or by
the sales channel's order number, an item by our SKU code. Both are translated here, so the
HTTP endpoint and the import page only parse their format and show what came back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actors import Actor
from backend.db import Database
from backend.fulfilment.waybills import (
    WaybillRefused,
    WaybillSource,
    record_waybill,
)
from backend.logistics import parcels
from backend.logistics.carriers.names import find_carrier_code
from backend.logistics.carriers.recognition import guess_carriers, normalize_number
from backend.logistics.models import Shipment
from backend.orders.models import Order, OrderLine, SalesChannel
from backend.orders.service import OrderNotFound

CREATED, REPEAT, REFUSED = "created", "repeat", "refused"
# Reasons of our own, next to record_waybill's Refusal codes.
MISSING_CARRIER = "missing_carrier"  # 请填写快递公司
UNKNOWN_CARRIER = "unknown_carrier"
MISSING_WAYBILL = "missing_waybill"
MISSING_ORDER = "missing_order"
BAD_QUANTITY = "bad_quantity"
UNKNOWN_ORDER = "unknown_order"
AMBIGUOUS_ORDER = "ambiguous_order"  # a channel order number two channels share
UNKNOWN_SKU = "unknown_sku"  # not on the order, or more units than it has left


@dataclass(frozen=True)
class OutsideParcel:
    order: str  # our public number, "channel:channel order number", or the channel number
    carrier: str  # our code or a carrier name (顺丰, 顺丰速运, SF Express)
    waybill: str
    # (our SKU code, units); empty: all that is left on the order.
    lines: tuple[tuple[str, int], ...] = ()
    shipped_at: datetime | None = None
    row: int | None = None  # the first spreadsheet row of this parcel, for the page


@dataclass(frozen=True)
class ParcelOutcome:
    order: str
    waybill: str
    outcome: str  # created | repeat | refused
    reason: str | None = None
    public_no: str | None = None
    shipment_id: int | None = None
    row: int | None = None


def _find_order(session: Session, reference: str) -> int:
    reference = reference.strip()
    found = session.scalar(select(Order.id).where(Order.public_no == reference))
    if found is not None:
        return found
    channel, separator, number = reference.partition(":")
    query = select(Order.id)
    if separator and channel in {str(c) for c in SalesChannel}:
        query = query.where(Order.channel == channel, Order.channel_order_no == number)
    else:
        query = query.where(Order.channel_order_no == reference)
    ids = list(session.scalars(query.limit(2)))
    if len(ids) > 1:
        raise _Refused(AMBIGUOUS_ORDER)
    if not ids:
        raise _Refused(UNKNOWN_ORDER)
    return ids[0]


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def lines_for_skus(
    session: Session, order_id: int, wanted: Iterable[tuple[str, int]]
) -> dict[int, int]:
    """Order line id -> units for (SKU, units) pairs; a SKU on two lines fills them in order."""
    left = parcels.unassigned_quantities(session, order_id)
    rows = session.execute(
        select(OrderLine.id, OrderLine.sku).where(OrderLine.order_id == order_id)
    ).all()
    lines: dict[int, int] = {}
    for sku, quantity in wanted:
        still = quantity
        for line_id, line_sku in sorted(rows):
            if line_sku != sku or still <= 0:
                continue
            take = min(still, left.get(line_id, 0) - lines.get(line_id, 0))
            if take > 0:
                lines[line_id] = lines.get(line_id, 0) + take
                still -= take
        if still > 0:
            raise _Refused(UNKNOWN_SKU)
    return lines


def _prepare(
    database: Database, parcel: OutsideParcel, carrier: str
) -> tuple[int, dict[int, int] | None]:
    """The order id and its line ids for the parcel; a waybill already on record keeps its own."""
    with database.read() as session:
        order_id = _find_order(session, parcel.order)
        known = session.scalar(
            select(Shipment.id).where(
                Shipment.carrier_code == carrier,
                Shipment.tracking_no == normalize_number(parcel.waybill),
            )
        )
        if known is not None or not parcel.lines:
            # A repeat is recognised by record_waybill before any line is looked at.
            return order_id, None
        return order_id, lines_for_skus(session, order_id, parcel.lines)


def record_outside_parcel(
    database: Database, parcel: OutsideParcel, actor: Actor, source: WaybillSource
) -> ParcelOutcome:
    """One parcel, one record_waybill transaction; a refusal is an outcome, not an error."""
    refused = ParcelOutcome(parcel.order, parcel.waybill, REFUSED, row=parcel.row)
    guessed = guess_carriers(parcel.waybill)
    if not parcel.carrier.strip() and len(guessed) != 1:
        # Only a number that one carrier's shape fits names its carrier by itself.
        return _with(refused, MISSING_CARRIER)
    carrier = find_carrier_code(parcel.carrier) if parcel.carrier.strip() else guessed[0]
    if carrier is None:
        return _with(refused, UNKNOWN_CARRIER)
    if not parcel.waybill.strip():
        return _with(refused, MISSING_WAYBILL)
    try:
        order_id, lines = _prepare(database, parcel, carrier)
        recorded = record_waybill(
            database,
            order_id,
            carrier,
            parcel.waybill,
            actor,
            source=source,
            lines=lines,
            at=parcel.shipped_at,
        )
    except _Refused as refusal:
        return _with(refused, refusal.reason)
    except WaybillRefused as refusal:
        return _with(refused, str(refusal.reason))
    except OrderNotFound:
        return _with(refused, UNKNOWN_ORDER)
    return ParcelOutcome(
        parcel.order,
        normalize_number(parcel.waybill),
        CREATED if recorded.created else REPEAT,
        public_no=recorded.public_no,
        shipment_id=recorded.shipment_id,
        row=parcel.row,
    )


def _with(outcome: ParcelOutcome, reason: str) -> ParcelOutcome:
    return ParcelOutcome(outcome.order, outcome.waybill, REFUSED, reason, row=outcome.row)


def record_outside_parcels(
    database: Database, found: Sequence[OutsideParcel], actor: Actor, source: WaybillSource
) -> list[ParcelOutcome]:
    """Each parcel its own transaction: a refused one leaves the others recorded."""
    return [record_outside_parcel(database, parcel, actor, source) for parcel in found]
