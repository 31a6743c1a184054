"""Warehouses: set them up, count their stock, move an order between them, restock returns."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders import allocation, inventory, stock, transfers
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import (
    MovementKind,
    Order,
    OrderLine,
    Reservation,
    ReservationState,
    Sku,
    Warehouse,
)
from backend.staff.permissions import Permission, check_permission

# The CLI and the demo seed set warehouses up too; customers and channels never do.
_KEEPERS = (ActorKind.SYSTEM,)
# Picking has begun at one warehouse from PICKING on; from PACKED the parcel exists.
REALLOCATABLE = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID})


class WarehouseInvalid(ValueError):
    """A warehouse code or field that cannot be stored."""


class AllocationLocked(Exception):
    """The order is picked or packed (or closed): its units stay where they are."""


class NotEnoughStock(Exception):
    """The chosen warehouse does not have the free units."""


class NothingReserved(Exception):
    """The order (or line) holds no reserved units to move."""


@dataclass(frozen=True)
class WarehouseFields:
    code: str
    name: str
    province: str = ""
    serves: tuple[str, ...] = ()
    priority: int = 100
    active: bool = True
    contact_name: str = ""
    phone: str = ""
    city: str = ""
    district: str = ""
    street: str = ""


@dataclass(frozen=True)
class WarehouseView:
    id: int
    code: str
    name: str
    province: str
    region: str | None
    serves: tuple[str, ...]
    priority: int
    active: bool


def _fields_of(row: Warehouse) -> dict[str, object]:
    return {
        "code": row.code,
        "name": row.name,
        "province": row.province,
        "serves": list(row.serves or []),
        "priority": row.priority,
        "active": row.active,
        "contact_name": row.contact_name,
        "phone": row.phone,
        "city": row.city,
        "district": row.district,
        "street": row.street,
    }


def save_warehouse(database: Database, fields: WarehouseFields, actor: Actor) -> int:
    """Create or update a warehouse by its code."""
    check_permission(actor, Permission.MANAGE_SKUS, also=_KEEPERS)
    code = fields.code.strip().upper()
    if not code or len(code) > 32 or not fields.name.strip() or fields.priority < 0:
        raise WarehouseInvalid(fields.code)
    unknown = [
        name
        for name in fields.serves
        if allocation.province_key(name) not in allocation.REGIONS
        and name not in allocation.REGION_NAMES
    ]
    if unknown:
        raise WarehouseInvalid(f"unknown province or region: {', '.join(unknown)}")
    with database.write() as session:
        row = session.scalars(select(Warehouse).where(Warehouse.code == code)).first()
        before = _fields_of(row) if row is not None else None
        if row is None:
            row = Warehouse(code=code)
            session.add(row)
        row.name, row.province = fields.name.strip()[:100], fields.province.strip()[:32]
        row.serves = [name.strip() for name in fields.serves if name.strip()]
        row.priority, row.active = fields.priority, fields.active
        row.contact_name, row.phone = fields.contact_name[:64], fields.phone[:20]
        row.city, row.district, row.street = (
            fields.city[:32],
            fields.district[:32],
            fields.street[:200],
        )
        session.flush()
        audit.record(
            session,
            actor,
            "warehouse.updated" if before else "warehouse.created",
            subject="warehouse",
            subject_id=row.id,
            before=before,
            after=_fields_of(row),
        )
        return row.id


def list_warehouses(database: Database) -> list[WarehouseView]:
    with database.read() as session:
        rows = session.scalars(select(Warehouse).order_by(Warehouse.priority, Warehouse.code))
        return [
            WarehouseView(
                w.id,
                w.code,
                w.name,
                w.province,
                allocation.region_of(w.province),
                tuple(w.serves or ()),
                w.priority,
                w.active,
            )
            for w in rows
        ]


def set_stock(
    database: Database, warehouse_code: str, sku_code: str, on_hand: int, actor: Actor
) -> int:
    """A shelf count at one warehouse; returns the change. Never below what is reserved there."""
    check_permission(actor, Permission.MANAGE_SKUS, also=_KEEPERS)
    if on_hand < 0:
        raise inventory.SkuInvalid(sku_code)
    with database.write() as session:
        warehouse = stock.find_warehouse(session, warehouse_code)
        sku = session.scalar(select(Sku).where(Sku.code == sku_code.strip().upper()))
        if sku is None:
            raise inventory.SkuInvalid(sku_code)
        delta = inventory.count_stock(session, warehouse.id, sku.id, on_hand, actor.identifier)
        audit.record(
            session,
            actor,
            "stock.counted",
            subject="sku",
            subject_id=sku.id,
            before={"warehouse": warehouse.code, "on_hand": on_hand - delta},
            after={"warehouse": warehouse.code, "on_hand": on_hand},
        )
        return delta


def _locked_order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id, with_for_update=True)
    if order is None:
        raise NothingReserved(order_id)
    return order


def reallocate(
    database: Database,
    order_id: int,
    warehouse_code: str,
    actor: Actor,
    order_line_id: int | None = None,
) -> int:
    """Move a line (or every line) of an order to another warehouse; returns units moved.

    Released at the old warehouse and taken at the new one with the same conditional
    UPDATE as any reservation, in one transaction: if the new one lacks the units the
    whole move is refused and nothing changes.
    """
    check_permission(actor, Permission.ALLOCATE_STOCK)
    with database.write() as session:
        order = _locked_order(session, order_id)
        if order.status not in REALLOCATABLE or order.packed_at is not None:
            raise AllocationLocked(order_id)
        target = stock.find_warehouse(session, warehouse_code)
        if not target.active:
            raise stock.WarehouseNotFound(warehouse_code)
        query = select(Reservation).where(
            Reservation.order_id == order_id, Reservation.state == ReservationState.RESERVED
        )
        if order_line_id is not None:
            query = query.where(Reservation.order_line_id == order_line_id)
        held = sorted(session.scalars(query).all(), key=lambda r: (r.sku_id, r.id))
        if not held:
            raise NothingReserved(order_id)
        moving = [r for r in held if r.warehouse_id != target.id]
        before = [{"line": r.order_line_id, "warehouse_id": r.warehouse_id} for r in moving]
        for reservation in moving:
            stock.give_back(
                session, reservation.warehouse_id, reservation.sku_id, reservation.quantity
            )
            if not stock.take(session, target.id, reservation.sku_id, reservation.quantity):
                raise NotEnoughStock(warehouse_code)  # the transaction rolls every step back
            reservation.warehouse_id = target.id
        audit.record(
            session,
            actor,
            "order.reallocated",
            subject="order",
            subject_id=order_id,
            order_id=order_id,
            before={"lines": before},
            after={"warehouse": target.code, "line": order_line_id},
        )
        return sum(r.quantity for r in moving)


def line_ids_of(database: Database, order_id: int) -> list[int]:
    with database.read() as session:
        return list(
            session.scalars(
                select(OrderLine.id).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
            )
        )


@dataclass(frozen=True)
class ReturnedUnits:
    key: str  # unique per returned line, e.g. "return:12:line:30"
    order_line_id: int
    quantity: int


def _shipped_from(session: Session, order_line_id: int) -> tuple[int | None, int | None]:
    row = session.execute(
        select(Reservation.warehouse_id, Reservation.sku_id)
        .where(
            Reservation.order_line_id == order_line_id,
            Reservation.state == ReservationState.COMMITTED,
        )
        .order_by(Reservation.id)
        .limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


def _sku_of_line(session: Session, order_line_id: int) -> int | None:
    line = session.get(OrderLine, order_line_id)
    order = session.get(Order, line.order_id) if line is not None else None
    if line is None or order is None:
        return None
    sku = inventory.resolve_sku(session, str(order.channel), line.sku)
    return sku.id if sku is not None else None


def put_back_returned(
    session: Session,
    order_id: int,
    returned: list[ReturnedUnits],
    resaleable: bool,
    reason: str,
    actor: Actor,
    warehouse_code: str | None = None,
) -> int:
    """Returned units back into stock (resaleable) or written off (damaged), once per key.

    The ledger row's unique key is written first with INSERT .. ON CONFLICT DO NOTHING;
    only the statement that inserted it changes the stock, so repeating an inspection,
    even concurrently, restocks nothing the second time. Returns the units restocked.
    """
    restocked = 0
    chosen = stock.find_warehouse(session, warehouse_code) if warehouse_code else None
    for units in returned:
        shipped_from, sku_id = _shipped_from(session, units.order_line_id)
        sku_id = sku_id or _sku_of_line(session, units.order_line_id)
        if sku_id is None:
            continue  # a SKU never in the master: nothing to put back
        warehouse_id = chosen.id if chosen else shipped_from or stock.default_warehouse(session).id
        kind = MovementKind.RESTOCK if resaleable else MovementKind.WRITE_OFF
        if not stock.record_once(
            session,
            units.key,
            warehouse_id,
            sku_id,
            kind,
            units.quantity,
            order_id,
            reason[:200],
            actor.identifier,
        ):
            continue
        if resaleable:
            stock.ensure_stock_row(session, warehouse_id, sku_id)
            stock.change_stock(session, warehouse_id, sku_id, on_hand=units.quantity)
            restocked += units.quantity
        audit.record(
            session,
            actor,
            "stock.restocked" if resaleable else "stock.written_off",
            subject="order_line",
            subject_id=units.order_line_id,
            order_id=order_id,
            after={
                "warehouse_id": warehouse_id,
                "sku_id": sku_id,
                "quantity": units.quantity,
                "reason": reason[:200],
            },
        )
    return restocked


@dataclass(frozen=True)
class OrderAllocationView:
    """What the staff order page shows about stock: where each line is, and what may change."""

    placements: tuple[inventory.LineAllocation, ...]
    lines: tuple[tuple[int, str, int], ...]  # (order line id, SKU, quantity)
    transfers: tuple[transfers.TransferView, ...]
    warehouses: tuple[WarehouseView, ...]
    can_move: bool  # not yet picked or packed, and something reserved to move


def get_order_allocation(database: Database, order_id: int) -> OrderAllocationView:
    placements = inventory.allocation_of(database, order_id)
    with database.read() as session:
        order = session.get(Order, order_id)
        lines = session.execute(
            select(OrderLine.id, OrderLine.sku, OrderLine.quantity)
            .where(OrderLine.order_id == order_id)
            .order_by(OrderLine.id)
        ).all()
    movable = order is not None and order.status in REALLOCATABLE and order.packed_at is None
    reserved = any(p.state == ReservationState.RESERVED for p in placements)
    return OrderAllocationView(
        tuple(placements),
        tuple((line_id, sku, quantity) for line_id, sku, quantity in lines),
        tuple(transfers.list_transfers(database, order_id)),
        tuple(w for w in list_warehouses(database) if w.active),
        movable and reserved,
    )
