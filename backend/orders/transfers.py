"""Transfer proposals (调拨): accept one (the units move, the order is reserved) or reject it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.orders import allocation, inventory, stock
from backend.orders.models import (
    HoldReason,
    MovementKind,
    Order,
    Sku,
    StockMovement,
    TransferProposal,
    TransferStatus,
    Warehouse,
    WarehouseStock,
)
from backend.staff.permissions import Permission, check_permission


class TransferNotPossible(Exception):
    """The proposal was decided already, or the source no longer has the units."""


@dataclass(frozen=True)
class TransferView:
    id: int
    order_line_id: int
    sku: str
    quantity: int
    from_code: str
    to_code: str
    lead_days: int
    status: TransferStatus


def list_transfers(database: Database, order_id: int) -> list[TransferView]:
    with database.read() as session:
        rows = session.execute(
            select(TransferProposal, Sku.code)
            .join(Sku, Sku.id == TransferProposal.sku_id)
            .where(TransferProposal.order_id == order_id)
            .order_by(TransferProposal.id)
        ).all()
        codes = {row.id: row.code for row in session.execute(select(Warehouse.id, Warehouse.code))}
    return [
        TransferView(
            p.id,
            p.order_line_id,
            sku,
            p.quantity,
            codes.get(p.from_warehouse_id, "?"),
            codes.get(p.to_warehouse_id, "?"),
            p.lead_days,
            p.status,
        )
        for p, sku in rows
    ]


def _move_units(session: Session, proposal: TransferProposal, actor: str) -> None:
    """Source on_hand down (only if free there: conditional), target on_hand up."""
    row = WarehouseStock
    moved = session.execute(
        update(row)
        .where(
            row.warehouse_id == proposal.from_warehouse_id,
            row.sku_id == proposal.sku_id,
            row.on_hand - row.reserved >= proposal.quantity,
        )
        .values(on_hand=row.on_hand - proposal.quantity)
        .execution_options(synchronize_session=False)
    )
    if not getattr(moved, "rowcount", 0):
        raise TransferNotPossible(proposal.id)
    stock.ensure_stock_row(session, proposal.to_warehouse_id, proposal.sku_id)
    session.execute(
        update(row)
        .where(row.warehouse_id == proposal.to_warehouse_id, row.sku_id == proposal.sku_id)
        .values(on_hand=row.on_hand + proposal.quantity)
        .execution_options(synchronize_session=False)
    )
    for warehouse_id, kind, quantity in (
        (proposal.from_warehouse_id, MovementKind.TRANSFER_OUT, -proposal.quantity),
        (proposal.to_warehouse_id, MovementKind.TRANSFER_IN, proposal.quantity),
    ):
        session.add(
            StockMovement(
                warehouse_id=warehouse_id,
                sku_id=proposal.sku_id,
                kind=kind,
                quantity=quantity,
                order_id=proposal.order_id,
                actor=actor,
            )
        )


def _decide(
    session: Session, order_id: int, proposal_id: int, actor: Actor
) -> tuple[TransferProposal, Order]:
    proposal = session.get(TransferProposal, proposal_id)
    if proposal is None or proposal.order_id != order_id:
        raise TransferNotPossible(proposal_id)
    order = session.get(Order, proposal.order_id, with_for_update=True)
    assert order is not None  # the foreign key holds it
    session.refresh(proposal, with_for_update=True)
    if proposal.status != TransferStatus.PROPOSED:
        raise TransferNotPossible(proposal_id)
    proposal.decided_at, proposal.decided_by = utcnow(), actor.identifier
    return proposal, order


def accept_transfer(
    database: Database,
    order_id: int,
    proposal_id: int,
    actor: Actor,
    lead_times: allocation.LeadTimes,
) -> bool:
    """Move the units, then reserve the order again; True when its stock hold is released."""
    check_permission(actor, Permission.ALLOCATE_STOCK)
    with database.write() as session:
        proposal, order = _decide(session, order_id, proposal_id, actor)
        _move_units(session, proposal, actor.identifier)
        proposal.status = TransferStatus.ACCEPTED
        released = False
        if order.hold_reason == HoldReason.OUT_OF_STOCK:
            released = _reserve_held(session, order, lead_times)
        audit.record(
            session,
            actor,
            "transfer.accepted",
            subject="transfer",
            subject_id=proposal.id,
            order_id=order.id,
            after={
                "from": proposal.from_warehouse_id,
                "to": proposal.to_warehouse_id,
                "sku_id": proposal.sku_id,
                "quantity": proposal.quantity,
                "hold_released": released,
            },
        )
        return released


def _reserve_held(session: Session, order: Order, lead_times: allocation.LeadTimes) -> bool:
    lines = inventory.order_lines_to_reserve(session, order)
    if lines is None:
        return False
    destination = inventory.destination_of(session, order)
    if not inventory.reserve_lines(session, order.id, destination, lines, lead_times):
        return False
    order.hold_reason = None
    return True


def reject_transfer(database: Database, order_id: int, proposal_id: int, actor: Actor) -> None:
    check_permission(actor, Permission.ALLOCATE_STOCK)
    with database.write() as session:
        proposal, order = _decide(session, order_id, proposal_id, actor)
        proposal.status = TransferStatus.REJECTED
        audit.record(
            session,
            actor,
            "transfer.rejected",
            subject="transfer",
            subject_id=proposal.id,
            order_id=order.id,
        )
