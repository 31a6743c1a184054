"""An order's outbound parcels as the customer sees them: what each carries, and what waits.

Built from rows the caller already fetched (the order's lines joined to the parcel lines
that name them, and the shipments with their events), so a page with three parcels costs
the same queries as a page with one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from backend.db import Database
from backend.logistics.models import ShipmentDirection, ShipmentLine
from backend.logistics.parcels import contents_from_rows, left_to_ship
from backend.logistics.shipment_views import ShipmentView, list_shipment_views
from backend.orders.models import OrderLine


@dataclass(frozen=True)
class ParcelItem:
    name: str
    quantity: int


@dataclass(frozen=True)
class ParcelView:
    number: int  # 1, 2, 3 in the order the parcels were labelled
    shipment: ShipmentView
    items: tuple[ParcelItem, ...]
    open: bool  # the parcel the customer most likely cares about shows its timeline


@dataclass(frozen=True)
class OrderParcels:
    parcels: tuple[ParcelView, ...]
    waiting: tuple[ParcelItem, ...]  # units no parcel carries yet (待发货)


# Each order line once per parcel line that names it (once with NULLs when none does).
LINES_WITH_PARCEL_LINES = (
    select(
        OrderLine.id,
        OrderLine.sku,
        OrderLine.name,
        OrderLine.quantity,
        OrderLine.unit_price_fen,
        ShipmentLine.shipment_id,
        ShipmentLine.quantity.label("parcel_quantity"),
    )
    .outerjoin(ShipmentLine, ShipmentLine.order_line_id == OrderLine.id)
    .where(OrderLine.order_id == bindparam("order_id"))
    .order_by(OrderLine.id, ShipmentLine.shipment_id)
)


def _open_parcel(parcels: Sequence[ShipmentView]) -> int | None:
    """The newest parcel still on its way; when every journey has ended, the newest."""
    if not parcels:
        return None
    moving = [parcel for parcel in parcels if not parcel.journey_ended]
    return (moving or list(parcels))[-1].id


def _items(names: dict[int, str], quantities: dict[int, int]) -> tuple[ParcelItem, ...]:
    return tuple(
        ParcelItem(names[line_id], quantity)
        for line_id, quantity in quantities.items()
        if quantity and line_id in names
    )


def assemble_parcels(shipments: Iterable[ShipmentView], line_rows: Iterable[Any]) -> OrderParcels:
    """Rows of LINES_WITH_PARCEL_LINES and the order's shipment views, as parcels and waiting items.

    Return parcels and voided labels are left out; a parcel without lines carries the order.
    """
    outbound = sorted(
        (s for s in shipments if s.direction == ShipmentDirection.OUTBOUND and s.voided_at is None),
        key=lambda s: s.id,
    )
    names: dict[int, str] = {}
    ordered: dict[int, int] = {}
    rows: list[tuple[int, int, int]] = []
    for row in line_rows:
        names[row.id] = row.name or row.sku
        ordered[row.id] = row.quantity
        if row.shipment_id is not None:
            rows.append((row.shipment_id, row.id, row.parcel_quantity))
    contents = contents_from_rows([s.id for s in outbound], rows, ordered)
    # Order of the dict follows the order lines, so items read in the order they were bought.
    for shipment_id, carried in contents.items():
        contents[shipment_id] = {line: carried[line] for line in ordered if line in carried}
    open_id = _open_parcel(outbound)
    parcels = tuple(
        ParcelView(number, shipment, _items(names, contents[shipment.id]), shipment.id == open_id)
        for number, shipment in enumerate(outbound, start=1)
    )
    waiting = _items(names, left_to_ship(ordered, contents.values()))
    return OrderParcels(parcels, waiting)


def get_order_parcels(database: Database, order_id: int) -> OrderParcels:
    """An order's parcels and waiting items on their own (the staff order page), two queries."""
    with database.engine.connect() as connection:
        line_rows = connection.execute(LINES_WITH_PARCEL_LINES, {"order_id": order_id}).all()
        shipments = list_shipment_views(connection, order_id)
    return assemble_parcels(shipments, line_rows)
