"""Stock for a batch of new orders at once: rows locked in one order, decided in batch order.

Intake ingests several orders in one transaction. Reserving each as it comes would hold
every SKU row it touched until the batch commits, and two workers taking the same SKUs in
different orders would deadlock. Instead the batch's reservations are made together at its
end: the SKU rows, then their warehouse rows, are locked in id order (the global lock order,
backend/orders/stock.py), read, and the orders are given units one after another in the
order they arrived, so two orders of one batch competing for the last unit get it in turn.
The writes are still conditional UPDATEs (`on_hand - reserved >= n`): with the rows locked
they always match, and a count that does not is an error that rolls the batch back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from backend.orders import allocation, stock
from backend.orders.models import Reservation, Sku, TransferProposal, WarehouseStock

_SKUS: Table = Sku.__table__  # type: ignore[assignment]
_STOCK: Table = WarehouseStock.__table__  # type: ignore[assignment]

_TAKE_TOTAL = (
    update(_SKUS)
    .where(
        _SKUS.c.id == bindparam("sku"),
        _SKUS.c.on_hand - _SKUS.c.reserved >= bindparam("units"),
    )
    .values(reserved=_SKUS.c.reserved + bindparam("units"))
)
_TAKE_AT = (
    update(_STOCK)
    .where(
        _STOCK.c.warehouse_id == bindparam("warehouse"),
        _STOCK.c.sku_id == bindparam("sku"),
        _STOCK.c.on_hand - _STOCK.c.reserved >= bindparam("units"),
    )
    .values(reserved=_STOCK.c.reserved + bindparam("units"))
)


class StockMoved(RuntimeError):
    """A locked stock row did not take what was planned on it: the batch is rolled back."""


@dataclass(frozen=True)
class Wanted:
    order_id: int
    lines: tuple[allocation.Line, ...]
    destination: str  # the province shipped to
    take: bool = True  # False: only whether it could be placed (an order closed on arrival)


def _lock(
    session: Session, sku_ids: list[int]
) -> tuple[dict[int, int], dict[tuple[int, int], int]]:
    """Free units per SKU and per (warehouse, SKU), the rows locked until the commit."""
    totals = session.execute(
        select(Sku.id, Sku.on_hand - Sku.reserved)
        .where(Sku.id.in_(sku_ids))
        .order_by(Sku.id)
        .with_for_update()
    ).all()
    rows = session.execute(
        select(
            WarehouseStock.warehouse_id,
            WarehouseStock.sku_id,
            WarehouseStock.on_hand - WarehouseStock.reserved,
        )
        .where(WarehouseStock.sku_id.in_(sku_ids))
        .order_by(WarehouseStock.sku_id, WarehouseStock.warehouse_id)
        .with_for_update()
    ).all()
    return {sku: free for sku, free in totals}, {(w, sku): free for w, sku, free in rows}


def reserve_orders(
    session: Session, wanted: Sequence[Wanted], lead_times: allocation.LeadTimes
) -> dict[int, bool]:
    """Each order's lines all reserved where the allocation rules send them, or none of them.

    In the order given; an order that cannot be placed gets a transfer proposal where
    another warehouse could top one up in time, as a single order does (inventory.py).
    """
    sku_ids = sorted({line.sku_id for want in wanted for line in want.lines})
    if not sku_ids:
        return {want.order_id: True for want in wanted}
    totals, free = _lock(session, sku_ids)
    candidates = stock.list_candidates(session)
    placed: dict[int, bool] = {}
    at: Counter[tuple[int, int]] = Counter()
    reservations: list[dict[str, Any]] = []
    proposals: list[dict[str, Any]] = []
    for want in wanted:
        needs: Counter[int] = Counter()
        for line in want.lines:
            needs[line.sku_id] += line.quantity
        plan = allocation.plan_order(want.lines, candidates, free, want.destination)
        enough = all(totals.get(sku, 0) >= units for sku, units in needs.items())
        placed[want.order_id] = not plan.short and enough
        if plan.short:
            proposals += _proposals(want, plan.short, candidates, free, lead_times)
        if not placed[want.order_id] or not want.take:
            continue
        by_id = {line.line_id: line for line in want.lines}
        for line_id, warehouse_id in plan.picks:
            line = by_id[line_id]
            free[(warehouse_id, line.sku_id)] -= line.quantity
            at[(warehouse_id, line.sku_id)] += line.quantity
            reservations.append(
                {
                    "order_id": want.order_id,
                    "order_line_id": line_id,
                    "sku_id": line.sku_id,
                    "warehouse_id": warehouse_id,
                    "quantity": line.quantity,
                }
            )
        for sku, units in needs.items():
            totals[sku] -= units
    _write(session, at, reservations, proposals)
    return placed


def _proposals(
    want: Wanted,
    short: Sequence[int],
    candidates: list[allocation.Candidate],
    free: dict[tuple[int, int], int],
    lead_times: allocation.LeadTimes,
) -> list[dict[str, Any]]:
    found = []
    for line in want.lines:
        if line.line_id not in short:
            continue
        transfer = allocation.propose_transfer(line, candidates, free, want.destination, lead_times)
        if transfer is not None:
            found.append(
                {
                    "order_id": want.order_id,
                    "order_line_id": line.line_id,
                    "sku_id": line.sku_id,
                    "from_warehouse_id": transfer.source_id,
                    "to_warehouse_id": transfer.target_id,
                    "quantity": transfer.quantity,
                    "lead_days": transfer.days,
                }
            )
    return found


def _write(
    session: Session,
    at: Counter[tuple[int, int]],
    reservations: list[dict[str, Any]],
    proposals: list[dict[str, Any]],
) -> None:
    # SKU totals first, then warehouse rows: the order every stock change locks them in.
    totals: Counter[int] = Counter()
    for (_warehouse, sku), units in at.items():
        totals[sku] += units
    checked = session.get_bind().dialect.supports_sane_multi_rowcount
    for statement, rows in (
        (_TAKE_TOTAL, [{"sku": sku, "units": units} for sku, units in sorted(totals.items())]),
        (
            _TAKE_AT,
            [
                {"warehouse": warehouse, "sku": sku, "units": units}
                for (warehouse, sku), units in sorted(at.items(), key=lambda item: item[0][::-1])
            ],
        ),
    ):
        if not rows:
            continue
        taken = getattr(session.execute(statement, rows), "rowcount", len(rows))
        if checked and taken != len(rows):
            raise StockMoved(f"{len(rows)} stock rows planned, {taken} taken")
    if reservations:
        session.execute(insert(Reservation), reservations)
    if proposals:
        session.execute(insert(TransferProposal), proposals)
