"""The SKU master and stock reservations per warehouse: one conditional UPDATE, never oversold.

A reservation never reads stock and then writes it: `UPDATE warehouse_stock SET reserved =
reserved + n WHERE warehouse_id = ? AND sku_id = ? AND on_hand - reserved >= n` either takes
the units or changes no row, so two buyers can never both get the last unit, on SQLite or
PostgreSQL. Which warehouse to try is the allocation rule table's (backend/orders/allocation.py);
the plan is made from a plain read and only the UPDATE decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.orders import allocation, stock
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import (
    AddressVersion,
    ChannelSku,
    MovementKind,
    Order,
    OrderLine,
    Reservation,
    ReservationState,
    Sku,
    StockMovement,
    TransferProposal,
    TransferStatus,
    Warehouse,
    WarehouseStock,
)
from backend.staff.permissions import Permission, check_permission


def resolve_sku(session: Session, channel: str, channel_sku: str) -> Sku | None:
    """The internal SKU for a channel's SKU: an explicit mapping first, then the same code."""
    mapped = session.scalar(
        select(Sku)
        .join(ChannelSku, ChannelSku.sku_id == Sku.id)
        .where(ChannelSku.channel == channel, ChannelSku.channel_sku == channel_sku)
    )
    return mapped or session.scalar(select(Sku).where(Sku.code == channel_sku))


# A concurrent order that took the planned units makes the plan stale; each retry reads
# the stock again and so falls back to the next candidate. Bounded: under a storm the
# order is held out of stock rather than spinning.
RESERVE_ATTEMPTS = 5


def _take_all(
    session: Session, order_id: int, lines: Sequence[allocation.Line], plan: allocation.Plan
) -> bool:
    by_id = {line.line_id: line for line in lines}
    # Rows are locked in one global order (SKU, then warehouse), so two orders taking the
    # same rows on PostgreSQL queue behind each other instead of deadlocking.
    picks = sorted(plan.picks, key=lambda pick: (by_id[pick[0]].sku_id, pick[1]))
    taken: list[tuple[allocation.Line, int]] = []
    for line_id, warehouse_id in picks:
        line = by_id[line_id]
        if not stock.take(session, warehouse_id, line.sku_id, line.quantity):
            for done, where in taken:
                stock.give_back(session, where, done.sku_id, done.quantity)
            return False
        taken.append((line, warehouse_id))
    for line, warehouse_id in taken:
        session.add(
            Reservation(
                order_id=order_id,
                order_line_id=line.line_id,
                sku_id=line.sku_id,
                warehouse_id=warehouse_id,
                quantity=line.quantity,
            )
        )
    session.flush()
    return True


def reserve_lines(
    session: Session,
    order_id: int,
    destination: str,
    lines: Sequence[allocation.Line],
    lead_times: allocation.LeadTimes,
) -> bool:
    """All of an order's lines reserved where the allocation rules send them, or none.

    When a line cannot be placed, a transfer proposal is recorded if another warehouse
    could top the chosen one up in time (it waits for staff to accept it).
    """
    for _ in range(RESERVE_ATTEMPTS):
        candidates = stock.list_candidates(session)
        free = stock.free_stock(session, (line.sku_id for line in lines))
        plan = allocation.plan_order(lines, candidates, free, destination)
        if plan.short:
            short = [line for line in lines if line.line_id in plan.short]
            _propose_transfers(session, order_id, short, candidates, free, destination, lead_times)
            return False
        if _take_all(session, order_id, lines, plan):
            return True
    return False


def _propose_transfers(
    session: Session,
    order_id: int,
    short: Sequence[allocation.Line],
    candidates: list[allocation.Candidate],
    free: dict[tuple[int, int], int],
    destination: str,
    lead_times: allocation.LeadTimes,
) -> None:
    waiting = set(
        session.scalars(
            select(TransferProposal.order_line_id).where(
                TransferProposal.order_id == order_id,
                TransferProposal.status == TransferStatus.PROPOSED,
            )
        )
    )
    for line in short:
        if line.line_id in waiting:
            continue
        transfer = allocation.propose_transfer(line, candidates, free, destination, lead_times)
        if transfer is not None:
            session.add(
                TransferProposal(
                    order_id=order_id,
                    order_line_id=line.line_id,
                    sku_id=line.sku_id,
                    from_warehouse_id=transfer.source_id,
                    to_warehouse_id=transfer.target_id,
                    quantity=transfer.quantity,
                    lead_days=transfer.days,
                )
            )


def order_lines_to_reserve(session: Session, order: Order) -> list[allocation.Line] | None:
    """The order's lines as allocation lines; None when a line's SKU is unknown."""
    lines: list[allocation.Line] = []
    for line in session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)):
        sku = resolve_sku(session, str(order.channel), line.sku)
        if sku is None:
            return None
        lines.append(allocation.Line(line.id, sku.id, line.quantity))
    return lines


def destination_of(session: Session, order: Order) -> str:
    if order.current_address_id is None:
        return ""
    address = session.get(AddressVersion, order.current_address_id)
    return address.province if address is not None else ""


def _held(session: Session, order_id: int, **where: object) -> list[Reservation]:
    query = select(Reservation).where(
        Reservation.order_id == order_id, Reservation.state == ReservationState.RESERVED
    )
    for name, value in where.items():
        query = query.where(getattr(Reservation, name) == value)
    rows = session.scalars(query).all()
    return sorted(rows, key=lambda r: (r.sku_id, r.warehouse_id or 0, r.id))


def release(session: Session, order_id: int) -> int:
    """Give back an order's reserved units (cancelled, or unpaid too long)."""
    released = 0
    for reservation in _held(session, order_id):
        stock.give_back(session, reservation.warehouse_id, reservation.sku_id, reservation.quantity)
        reservation.state = ReservationState.RELEASED
        released += reservation.quantity
    return released


def _ship_out(session: Session, reservation: Reservation, quantity: int, actor: str) -> None:
    if reservation.warehouse_id is None:
        session.execute(
            update(Sku)
            .where(Sku.id == reservation.sku_id)
            .values(reserved=Sku.reserved - quantity, on_hand=Sku.on_hand - quantity)
        )
        return
    stock.change_stock(
        session, reservation.warehouse_id, reservation.sku_id, reserved=-quantity, on_hand=-quantity
    )
    session.add(
        StockMovement(
            warehouse_id=reservation.warehouse_id,
            sku_id=reservation.sku_id,
            kind=MovementKind.COMMIT,
            quantity=-quantity,
            order_id=reservation.order_id,
            actor=actor,
        )
    )


def commit(session: Session, order_id: int, actor: str = "system") -> None:
    """The whole order shipped: every reserved unit leaves its warehouse's stock."""
    for reservation in _held(session, order_id):
        _ship_out(session, reservation, reservation.quantity, actor)
        reservation.state = ReservationState.COMMITTED


class NotReserved(ValueError):
    """A parcel would ship units of a line that are not reserved for it."""


def commit_lines(
    session: Session,
    order_id: int,
    quantities: Mapping[int, int],
    actor: str = "system",
    *,
    strict: bool = True,
) -> None:
    """One parcel shipped: exactly these units per order line, from where each was reserved.

    A reservation partly shipped is split: the shipped part becomes its own COMMITTED row
    and the rest stays reserved for the next parcel. `strict=False` is for a parcel that
    has already left (a carrier's pickup scan, a 3PL): what is reserved leaves, and units
    never reserved (stock kept elsewhere, an order taken before stock was kept) pass.
    """
    for line_id, wanted in sorted(quantities.items()):
        held = _held(session, order_id, order_line_id=line_id)
        if wanted <= 0 or sum(r.quantity for r in held) < wanted:
            if strict:
                raise NotReserved(f"order {order_id} line {line_id}: {wanted}")
            wanted = min(wanted, sum(r.quantity for r in held))
            if wanted <= 0:
                continue
        for reservation in held:
            part = min(wanted, reservation.quantity)
            _ship_out(session, reservation, part, actor)
            if part == reservation.quantity:
                reservation.state = ReservationState.COMMITTED
            else:
                reservation.quantity -= part
                session.add(
                    Reservation(
                        order_id=order_id,
                        order_line_id=line_id,
                        sku_id=reservation.sku_id,
                        warehouse_id=reservation.warehouse_id,
                        quantity=part,
                        state=ReservationState.COMMITTED,
                    )
                )
            wanted -= part
            if wanted == 0:
                break


@dataclass(frozen=True)
class LineAllocation:
    order_line_id: int | None
    sku: str
    warehouse_code: str
    warehouse_name: str
    quantity: int
    state: ReservationState


def allocation_of(source: Session | Database, order_id: int) -> list[LineAllocation]:
    """Where each of an order's lines is reserved (or shipped from), line by line."""
    if isinstance(source, Database):
        with source.read() as session:
            return allocation_of(session, order_id)
    rows = source.execute(
        select(Reservation, Sku.code, Warehouse.code, Warehouse.name)
        .join(Sku, Sku.id == Reservation.sku_id)
        .outerjoin(Warehouse, Warehouse.id == Reservation.warehouse_id)
        .where(
            Reservation.order_id == order_id,
            Reservation.state != ReservationState.RELEASED,
        )
        .order_by(Reservation.order_line_id, Reservation.id)
    ).all()
    return [
        LineAllocation(r.order_line_id, sku, code or "", name or "", r.quantity, r.state)
        for r, sku, code, name in rows
    ]


def release_unpaid(
    database: Database, after: timedelta = timedelta(minutes=30), now: datetime | None = None
) -> int:
    """Periodic: units reserved by orders still unpaid after `after` go back on sale."""
    now = now or utcnow()
    with database.write() as session:
        stale = session.scalars(
            select(Reservation.order_id)
            .distinct()
            .join(Order, Order.id == Reservation.order_id)
            .where(
                Reservation.state == ReservationState.RESERVED,
                Order.status == OrderStatus.PENDING_PAYMENT,
                Order.placed_at < now - after,
            )
        ).all()
        return sum(release(session, order_id) for order_id in stale)


class SkuInvalid(ValueError):
    """A SKU code, name, stock or cost that cannot be stored."""


# The worker and the demo seed keep the SKU master too; customers and channels never do.
_SKU_KEEPERS = (ActorKind.SYSTEM,)


def _sku_fields(sku: Sku) -> dict[str, object]:
    return {"code": sku.code, "name": sku.name, "on_hand": sku.on_hand, "cost_fen": sku.cost_fen}


def count_stock(session: Session, warehouse_id: int, sku_id: int, on_hand: int, actor: str) -> int:
    """Set a warehouse's on_hand for a SKU (a shelf count); never below what is reserved there."""
    stock.ensure_stock_row(session, warehouse_id, sku_id)
    row = session.scalars(
        select(WarehouseStock)
        .where(WarehouseStock.warehouse_id == warehouse_id, WarehouseStock.sku_id == sku_id)
        .with_for_update()
    ).one()
    session.refresh(row)
    if on_hand < row.reserved:
        raise SkuInvalid(f"{row.reserved} units are reserved at this warehouse")
    delta = on_hand - row.on_hand
    if delta:
        stock.change_stock(session, warehouse_id, sku_id, on_hand=delta)
        session.add(
            StockMovement(
                warehouse_id=warehouse_id,
                sku_id=sku_id,
                kind=MovementKind.COUNT,
                quantity=delta,
                actor=actor,
            )
        )
    return delta


@dataclass(frozen=True)
class SkuVariant:
    product_code: str
    label: str
    price_fen: int | None = None


def save_sku(
    database: Database,
    code: str,
    name: str,
    on_hand: int,
    cost_fen: int | None,
    actor: Actor,
    warehouse: str | None = None,
    variant: SkuVariant | None = None,
) -> int:
    """Create or update a SKU; `cost_fen=None` keeps the cost (a new SKU's is then unknown, 0).

    `variant` (product code, label, list price) makes it one of a product's variants that
    换货 may swap between; None keeps what the SKU had.

    `on_hand` is the count at `warehouse` (the default warehouse when None); the SKU's
    total is the sum over its warehouses. Stock can never be set below what is already
    reserved. Changing a cost needs VIEW_COSTS as well as MANAGE_SKUS: the warehouse
    counts stock but never sees margins.
    """
    check_permission(actor, Permission.MANAGE_SKUS, also=_SKU_KEEPERS)
    code = code.strip().upper()[:64]
    if not code or not name.strip() or on_hand < 0 or (cost_fen is not None and cost_fen < 0):
        raise SkuInvalid(code)
    if variant is not None and variant.price_fen is not None and variant.price_fen < 0:
        raise SkuInvalid(code)
    with database.write() as session:
        sku = session.scalars(select(Sku).where(Sku.code == code).with_for_update()).first()
        before = _sku_fields(sku) if sku is not None else None
        if cost_fen is not None and cost_fen != (sku.cost_fen if sku is not None else 0):
            check_permission(actor, Permission.VIEW_COSTS, also=_SKU_KEEPERS)
        try:
            place = stock.find_warehouse(session, warehouse)
        except stock.WarehouseNotFound:
            raise SkuInvalid(f"no warehouse {warehouse}") from None
        if sku is None:
            sku = Sku(code=code, name=name.strip()[:200], on_hand=0, cost_fen=cost_fen or 0)
            session.add(sku)
        else:
            sku.name = name.strip()[:200]
            if cost_fen is not None:
                sku.cost_fen = cost_fen
        if variant is not None:
            sku.product_code = variant.product_code.strip().upper()[:64] or None
            sku.variant_label = variant.label.strip()[:64] or None
            sku.price_fen = variant.price_fen
        session.flush()
        count_stock(session, place.id, sku.id, on_hand, actor.identifier)
        session.refresh(sku)
        audit.record(
            session,
            actor,
            "sku.updated" if before else "sku.created",
            subject="sku",
            subject_id=sku.id,
            before=before,
            after=_sku_fields(sku),
        )
        return sku.id


def map_channel_sku(
    database: Database, channel: str, channel_sku: str, code: str, actor: Actor
) -> None:
    """A channel's SKU id stands for one of ours from now on (held orders can then be released)."""
    check_permission(actor, Permission.MANAGE_SKUS, also=_SKU_KEEPERS)
    channel_sku = channel_sku.strip()[:64]
    with database.write() as session:
        sku = session.scalar(select(Sku).where(Sku.code == code.strip().upper()))
        if sku is None or not channel_sku:
            raise SkuInvalid(code)
        mapping = session.scalar(
            select(ChannelSku).where(
                ChannelSku.channel == channel, ChannelSku.channel_sku == channel_sku
            )
        )
        before = None
        if mapping is None:
            mapping = ChannelSku(channel=channel, channel_sku=channel_sku, sku_id=sku.id)
            session.add(mapping)
        else:
            before = {"sku_id": mapping.sku_id}
            mapping.sku_id = sku.id
        session.flush()
        audit.record(
            session,
            actor,
            "sku.channel_mapped",
            subject="channel_sku",
            subject_id=mapping.id,
            before=before,
            after={
                "channel": channel,
                "channel_sku": channel_sku,
                "sku_id": sku.id,
                "code": sku.code,
            },
        )


@dataclass(frozen=True)
class StockAt:
    warehouse_code: str
    warehouse_name: str
    on_hand: int
    reserved: int


@dataclass(frozen=True)
class SkuView:
    code: str
    name: str
    on_hand: int  # over all warehouses
    reserved: int
    cost_fen: int | None  # None for those who may not see costs
    stock: tuple[StockAt, ...]  # per warehouse, in warehouse order
    has_catalogue_image: bool = False  # return photos are compared with it
    product_code: str | None = None  # 换货 swaps between the SKUs of one product code
    variant_label: str | None = None
    price_fen: int | None = None


def list_skus(database: Database, *, include_costs: bool) -> list[SkuView]:
    """The SKU master with each warehouse's stock; costs only for those who may see them."""
    with database.read() as session:
        skus = session.scalars(select(Sku).order_by(Sku.code)).all()
        rows = session.execute(
            select(WarehouseStock, Warehouse.code, Warehouse.name)
            .join(Warehouse, Warehouse.id == WarehouseStock.warehouse_id)
            .order_by(Warehouse.priority, Warehouse.code)
        ).all()
    per_sku: dict[int, list[StockAt]] = {}
    for row, code, name in rows:
        per_sku.setdefault(row.sku_id, []).append(StockAt(code, name, row.on_hand, row.reserved))
    return [
        SkuView(
            sku.code,
            sku.name,
            sku.on_hand,
            sku.reserved,
            sku.cost_fen if include_costs else None,
            tuple(per_sku.get(sku.id, ())),
            sku.image_hash is not None,
            sku.product_code,
            sku.variant_label,
            sku.price_fen,
        )
        for sku in skus
    ]
