"""The SKU master and stock reservations: reserved with one conditional UPDATE, never oversold.

A reservation never reads stock and then writes it: `UPDATE skus SET reserved = reserved + n
WHERE id = ? AND on_hand - reserved >= n` either takes the units or changes no row, so two
buyers can never both get the last unit, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import (
    ChannelSku,
    Order,
    OrderLine,
    Reservation,
    ReservationState,
    Sku,
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


def try_reserve(session: Session, order_id: int, sku_id: int, quantity: int) -> bool:
    """Take `quantity` units if they are free; one conditional UPDATE, no read before it."""
    result = session.execute(
        update(Sku)
        .where(Sku.id == sku_id, Sku.on_hand - Sku.reserved >= quantity)
        .values(reserved=Sku.reserved + quantity)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    session.add(Reservation(order_id=order_id, sku_id=sku_id, quantity=quantity))
    return True


def release(session: Session, order_id: int) -> int:
    """Give back an order's reserved units (cancelled, or unpaid too long)."""
    held = session.scalars(
        select(Reservation).where(
            Reservation.order_id == order_id, Reservation.state == ReservationState.RESERVED
        )
    )
    released = 0
    for reservation in held:
        session.execute(
            update(Sku)
            .where(Sku.id == reservation.sku_id)
            .values(reserved=Sku.reserved - reservation.quantity)
            .execution_options(synchronize_session=False)
        )
        reservation.state = ReservationState.RELEASED
        released += reservation.quantity
    return released


def commit(session: Session, order_id: int) -> None:
    """The units shipped: they leave both the stock and the reservation."""
    held = session.scalars(
        select(Reservation).where(
            Reservation.order_id == order_id, Reservation.state == ReservationState.RESERVED
        )
    )
    for reservation in held:
        session.execute(
            update(Sku)
            .where(Sku.id == reservation.sku_id)
            .values(
                reserved=Sku.reserved - reservation.quantity,
                on_hand=Sku.on_hand - reservation.quantity,
            )
            .execution_options(synchronize_session=False)
        )
        reservation.state = ReservationState.COMMITTED


def commit_lines(session: Session, order_id: int, quantities: dict[int, int]) -> None:
    """Units of some lines left in a parcel: those leave the stock and the reservation.

    A reservation bigger than what left is split, so the rest stays reserved for the next
    parcel. Lines with no reservation (an order shipped from stock we do not keep) pass.
    """
    rows = session.execute(
        select(OrderLine.id, OrderLine.sku).where(
            OrderLine.order_id == order_id, OrderLine.id.in_(quantities)
        )
    )
    codes = {line_id: code for line_id, code in rows}
    by_sku: dict[str, int] = {}
    for line_id, quantity in quantities.items():
        if line_id in codes:
            by_sku[codes[line_id]] = by_sku.get(codes[line_id], 0) + quantity
    for code, wanted in by_sku.items():
        held = session.scalars(
            select(Reservation)
            .join(Sku, Sku.id == Reservation.sku_id)
            .where(
                Reservation.order_id == order_id,
                Reservation.state == ReservationState.RESERVED,
                Sku.code == code,
            )
            .order_by(Reservation.id)
        ).all()
        for reservation in held:
            if wanted <= 0:
                break
            taken = min(wanted, reservation.quantity)
            session.execute(
                update(Sku)
                .where(Sku.id == reservation.sku_id)
                .values(reserved=Sku.reserved - taken, on_hand=Sku.on_hand - taken)
                .execution_options(synchronize_session=False)
            )
            if taken < reservation.quantity:
                reservation.quantity -= taken
                session.add(
                    Reservation(
                        order_id=order_id,
                        sku_id=reservation.sku_id,
                        quantity=taken,
                        state=ReservationState.COMMITTED,
                    )
                )
            else:
                reservation.state = ReservationState.COMMITTED
            wanted -= taken


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


def save_sku(
    database: Database, code: str, name: str, on_hand: int, cost_fen: int | None, actor: Actor
) -> int:
    """Create or update a SKU; `cost_fen=None` keeps the cost (a new SKU's is then unknown, 0).

    Stock can never be set below what is already reserved. Changing a cost needs
    VIEW_COSTS as well as MANAGE_SKUS: the warehouse counts stock but never sees margins.
    """
    check_permission(actor, Permission.MANAGE_SKUS, also=_SKU_KEEPERS)
    code = code.strip().upper()[:64]
    if not code or not name.strip() or on_hand < 0 or (cost_fen is not None and cost_fen < 0):
        raise SkuInvalid(code)
    with database.write() as session:
        sku = session.scalars(select(Sku).where(Sku.code == code).with_for_update()).first()
        before = _sku_fields(sku) if sku is not None else None
        if cost_fen is not None and cost_fen != (sku.cost_fen if sku is not None else 0):
            check_permission(actor, Permission.VIEW_COSTS, also=_SKU_KEEPERS)
        if sku is None:
            sku = Sku(code=code, name=name.strip()[:200], on_hand=on_hand, cost_fen=cost_fen or 0)
            session.add(sku)
        else:
            if on_hand < sku.reserved:
                raise SkuInvalid(f"{code}: {sku.reserved} units are reserved")
            sku.name, sku.on_hand = name.strip()[:200], on_hand
            if cost_fen is not None:
                sku.cost_fen = cost_fen
        session.flush()
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


def list_skus(
    database: Database, *, include_costs: bool
) -> list[tuple[str, str, int, int, int | None]]:
    """The SKU master; costs only for those who may see them (None otherwise)."""
    with database.read() as session:
        rows = session.execute(
            select(Sku.code, Sku.name, Sku.on_hand, Sku.reserved, Sku.cost_fen).order_by(Sku.code)
        ).all()
    return [
        (code, name, on_hand, reserved, cost if include_costs else None)
        for code, name, on_hand, reserved, cost in rows
    ]
