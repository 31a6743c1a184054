"""Stock rows per warehouse: the statements that change them, and nothing else.

Every change of a warehouse row changes the SKU's totals in the same transaction
(`skus.on_hand/reserved` are the sums). Reserving is one conditional UPDATE, never a read
and then a write; a once-only ledger row is an INSERT .. ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.clock import utcnow
from backend.orders import allocation
from backend.orders.models import MovementKind, Sku, StockMovement, Warehouse, WarehouseStock

DEFAULT_WAREHOUSE_CODE = "MAIN"


class WarehouseNotFound(LookupError):
    """No warehouse has that code."""


def default_warehouse(session: Session) -> Warehouse:
    """Where stock counted without a warehouse goes: the first active one, else a new 主仓.

    A shop that never set up warehouses keeps working as before with this one; the
    migration creates it (code MAIN) for the stock that existed before warehouses.
    """
    found = session.scalars(
        select(Warehouse).where(Warehouse.active).order_by(Warehouse.priority, Warehouse.id)
    ).first()
    if found is not None:
        return found
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    session.execute(
        dialect.insert(Warehouse)
        .values(code=DEFAULT_WAREHOUSE_CODE, name="主仓", serves=[], priority=100, active=True)
        .on_conflict_do_nothing(index_elements=[Warehouse.code])
    )
    return session.scalars(select(Warehouse).where(Warehouse.code == DEFAULT_WAREHOUSE_CODE)).one()


def ensure_stock_row(session: Session, warehouse_id: int, sku_id: int) -> None:
    """A zero stock row, so that later changes are plain UPDATEs (two callers may race here)."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    session.execute(
        dialect.insert(WarehouseStock)
        .values(warehouse_id=warehouse_id, sku_id=sku_id, on_hand=0, reserved=0)
        .on_conflict_do_nothing(index_elements=[WarehouseStock.warehouse_id, WarehouseStock.sku_id])
    )


# Lock order, everywhere: the SKU row first, then its warehouse rows. A SKU save (which
# locks the SKU row to count stock) and a reservation then queue behind each other on
# PostgreSQL instead of deadlocking; orders take their lines sorted by SKU for the same
# reason (inventory._take_all).


def change_stock(session: Session, warehouse_id: int, sku_id: int, **deltas: int) -> None:
    """Add to the SKU's totals and to one warehouse row in the same transaction."""
    session.execute(
        update(Sku)
        .where(Sku.id == sku_id)
        .values({name: getattr(Sku, name) + delta for name, delta in deltas.items()})
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(WarehouseStock)
        .where(WarehouseStock.warehouse_id == warehouse_id, WarehouseStock.sku_id == sku_id)
        .values({name: getattr(WarehouseStock, name) + delta for name, delta in deltas.items()})
        .execution_options(synchronize_session=False)
    )


def take(session: Session, warehouse_id: int, sku_id: int, quantity: int) -> bool:
    """Reserve `quantity` units at one warehouse if they are free: conditional UPDATEs only.

    The SKU's total is taken first (no warehouse can have the units if the total has
    not), then the warehouse row; if that one has not, the total is given back.
    """
    total = session.execute(
        update(Sku)
        .where(Sku.id == sku_id, Sku.on_hand - Sku.reserved >= quantity)
        .values(reserved=Sku.reserved + quantity)
        .execution_options(synchronize_session=False)
    )
    if not getattr(total, "rowcount", 0):
        return False
    row = WarehouseStock
    result = session.execute(
        update(row)
        .where(
            row.warehouse_id == warehouse_id,
            row.sku_id == sku_id,
            row.on_hand - row.reserved >= quantity,
        )
        .values(reserved=row.reserved + quantity)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0):
        return True
    session.execute(
        update(Sku)
        .where(Sku.id == sku_id)
        .values(reserved=Sku.reserved - quantity)
        .execution_options(synchronize_session=False)
    )
    return False


def give_back(session: Session, warehouse_id: int | None, sku_id: int, quantity: int) -> None:
    if warehouse_id is None:  # a reservation from before warehouses that the migration missed
        session.execute(
            update(Sku).where(Sku.id == sku_id).values(reserved=Sku.reserved - quantity)
        )
        return
    change_stock(session, warehouse_id, sku_id, reserved=-quantity)


def list_candidates(session: Session) -> list[allocation.Candidate]:
    rows = session.scalars(select(Warehouse).where(Warehouse.active).order_by(Warehouse.id))
    return [
        allocation.Candidate(w.id, w.code, w.province, tuple(w.serves or ()), w.priority)
        for w in rows
    ]


def free_stock(session: Session, sku_ids: Iterable[int]) -> dict[tuple[int, int], int]:
    """A plain read, for planning only: the conditional UPDATE in `take` decides."""
    rows = session.execute(
        select(
            WarehouseStock.warehouse_id,
            WarehouseStock.sku_id,
            WarehouseStock.on_hand - WarehouseStock.reserved,
        ).where(WarehouseStock.sku_id.in_(set(sku_ids)))
    )
    return {(warehouse, sku): free for warehouse, sku, free in rows}


def find_warehouse(session: Session, code: str | None) -> Warehouse:
    """The warehouse of that code, or the default one when no code is given."""
    if not code:
        return default_warehouse(session)
    found = session.scalar(select(Warehouse).where(Warehouse.code == code.strip().upper()))
    if found is None:
        raise WarehouseNotFound(code)
    return found


def record_once(
    session: Session,
    key: str,
    warehouse_id: int,
    sku_id: int,
    kind: MovementKind,
    quantity: int,
    order_id: int | None,
    reason: str,
    actor: str,
) -> bool:
    """A ledger row that may exist only once; False (and nothing written) if it already does."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    result = session.execute(
        dialect.insert(StockMovement)
        .values(
            key=key,
            warehouse_id=warehouse_id,
            sku_id=sku_id,
            kind=kind,
            quantity=quantity,
            order_id=order_id,
            reason=reason,
            actor=actor,
            at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[StockMovement.key])
        # RETURNING, not rowcount: a skipped insert's rowcount is not 0 on every driver.
        .returning(StockMovement.id)
    )
    return result.first() is not None
