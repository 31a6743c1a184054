"""An order's parcels and what they carry; the order's status follows them.

An order may leave in several parcels, from one warehouse or several. Each outbound
shipment lists the order lines it carries (ShipmentLine); an older shipment without
lines carries the whole order. A voided label carries nothing. The order is 部分发货
once some lines have left, 已发货 when every line has, and 已签收 when every parcel
that left has been delivered and nothing is still waiting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actors import Actor
from backend.logistics.models import Shipment, ShipmentDirection, ShipmentLine
from backend.logistics.status import TrackingStatus
from backend.orders.lifecycle import OrderAction, OrderStatus, can
from backend.orders.models import Order, OrderLine
from backend.orders.service import transition


def ordered_quantities(session: Session, order_id: int) -> dict[int, int]:
    rows = session.execute(
        select(OrderLine.id, OrderLine.quantity).where(OrderLine.order_id == order_id)
    )
    return {line_id: quantity for line_id, quantity in rows}


def outbound_parcels(session: Session, order_id: int) -> list[Shipment]:
    """The order's outbound shipments that still count (not voided), oldest first."""
    return list(
        session.scalars(
            select(Shipment)
            .where(
                Shipment.order_id == order_id,
                Shipment.direction == ShipmentDirection.OUTBOUND,
                Shipment.voided_at.is_(None),
            )
            .order_by(Shipment.id)
        )
    )


def parcel_contents(
    session: Session, shipments: list[Shipment], ordered: Mapping[int, int]
) -> dict[int, dict[int, int]]:
    """Per shipment id: order line id -> quantity; a shipment without lines carries all."""
    ids = [shipment.id for shipment in shipments]
    rows: list[tuple[int, int, int]] = []
    if ids:
        rows = [
            (shipment_id, line_id, quantity)
            for shipment_id, line_id, quantity in session.execute(
                select(
                    ShipmentLine.shipment_id, ShipmentLine.order_line_id, ShipmentLine.quantity
                ).where(ShipmentLine.shipment_id.in_(ids))
            )
        ]
    return contents_from_rows(ids, rows, ordered)


def contents_from_rows(
    shipment_ids: Iterable[int],
    rows: Iterable[tuple[int, int, int]],
    ordered: Mapping[int, int],
) -> dict[int, dict[int, int]]:
    """(shipment id, line id, quantity) rows as contents; rows of other shipments are ignored.

    Pure, so a read model that fetched the rows in its own query shares the rule.
    """
    contents: dict[int, dict[int, int]] = {shipment_id: {} for shipment_id in shipment_ids}
    for shipment_id, line_id, quantity in rows:
        if shipment_id in contents:
            contents[shipment_id][line_id] = quantity
    for shipment_id, lines in contents.items():
        if not lines:
            contents[shipment_id] = dict(ordered)
    return contents


def _total(contents: Iterable[Mapping[int, int]]) -> Counter[int]:
    total: Counter[int] = Counter()
    for lines in contents:
        total.update(lines)
    return total


def left_to_ship(
    ordered: Mapping[int, int], contents: Iterable[Mapping[int, int]]
) -> dict[int, int]:
    """Units of each line that none of `contents` carries; only lines with some."""
    assigned = _total(contents)
    return {
        line: quantity - assigned[line]
        for line, quantity in ordered.items()
        if quantity > assigned[line]
    }


def unassigned_quantities(session: Session, order_id: int) -> dict[int, int]:
    """Units of each line that no parcel carries yet (labelled or gone); only lines with some."""
    ordered = ordered_quantities(session, order_id)
    parcels = outbound_parcels(session, order_id)
    return left_to_ship(ordered, parcel_contents(session, parcels, ordered).values())


def follow_parcels(session: Session, order: Order, actor: Actor, at: datetime) -> None:
    """Move a locked order to the status its parcels give it; nothing when it is already there."""
    ordered = ordered_quantities(session, order.id)
    parcels = outbound_parcels(session, order.id)
    contents = parcel_contents(session, parcels, ordered)
    gone = [parcel for parcel in parcels if parcel.shipped_at is not None]
    if not gone:
        return
    left = _total([contents[parcel.id] for parcel in gone])
    everything_left = all(left[line] >= quantity for line, quantity in ordered.items())
    status = OrderStatus(order.status)
    if everything_left and can(status, OrderAction.SHIP):
        transition(session, order, OrderAction.SHIP, actor, at)
    elif not everything_left and can(status, OrderAction.SHIP_PART):
        transition(session, order, OrderAction.SHIP_PART, actor, at)
    all_delivered = all(parcel.status == TrackingStatus.DELIVERED for parcel in gone)
    if everything_left and all_delivered and can(OrderStatus(order.status), OrderAction.DELIVER):
        transition(session, order, OrderAction.DELIVER, actor, at)
