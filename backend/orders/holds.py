"""Held orders: which team must act on each hold, and releasing one (high value takes two people).

A held order is not shipped: the pack scan refuses it, and the operations queue routes
it to the team named here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.db import Database
from backend.orders import allocation, inventory
from backend.orders.models import HoldReason, Order, Reservation, ReservationState
from backend.staff.permissions import Permission, check_permission

HOLD_APPROVED = "order.hold_approved"
HOLD_RELEASED = "order.hold_released"


class Team(StrEnum):
    FINANCE = "finance"
    SUPPORT = "support"
    WAREHOUSE = "warehouse"
    OPERATIONS = "operations"


HOLD_TEAM: dict[HoldReason, Team] = {
    HoldReason.HIGH_VALUE: Team.FINANCE,
    HoldReason.DUPLICATE_SUSPECT: Team.SUPPORT,
    HoldReason.OUT_OF_STOCK: Team.WAREHOUSE,
    HoldReason.UNKNOWN_SKU: Team.OPERATIONS,
    HoldReason.BELOW_COST: Team.OPERATIONS,
    # Released by the return parcel's first carrier scan; support acts only when it never comes.
    HoldReason.AWAITING_RETURN: Team.SUPPORT,
}

# Four eyes for a high-value order: the second approval must come from someone else.
APPROVALS_NEEDED: dict[HoldReason, int] = {HoldReason.HIGH_VALUE: 2}


class NothingHeld(Exception):
    """The order is not (or no longer) held: someone released it already."""


class SecondApproverNeeded(Exception):
    """The same person approved this hold before; a different one must give the second approval."""


class HoldOutcome(StrEnum):
    RELEASED = "released"
    AWAITING_SECOND = "awaiting_second"  # one approval of two
    STILL_HELD = "still_held"  # approved, but the SKU is still unknown or the stock short


@dataclass(frozen=True)
class HoldState:
    reason: HoldReason
    team: Team
    approvals_needed: int
    approved_by: tuple[str, ...]


def _approvers(session: Session, order_id: int, reason: HoldReason) -> list[str]:
    # The audit's details are sealed at rest (backend/personal_data.py), so the reason is
    # compared here rather than in SQL; an order has a handful of approvals at most.
    rows = session.execute(
        select(AuditEvent.actor_id, AuditEvent.after)
        .where(AuditEvent.order_id == order_id, AuditEvent.action == HOLD_APPROVED)
        .order_by(AuditEvent.id)
    )
    return [actor for actor, after in rows if (after or {}).get("reason") == str(reason)]


def get_hold_state(session: Session, order_id: int, reason: HoldReason) -> HoldState:
    approvers = tuple(dict.fromkeys(_approvers(session, order_id, reason)))
    return HoldState(reason, HOLD_TEAM[reason], APPROVALS_NEEDED.get(reason, 1), approvers)


def _reserve_again(
    session: Session, order: Order, lead_times: allocation.LeadTimes
) -> HoldReason | None:
    """Duplicate, value and cost holds kept their units; unknown-SKU and stock holds did not."""
    holding = session.scalar(
        select(Reservation.id)
        .where(Reservation.order_id == order.id, Reservation.state == ReservationState.RESERVED)
        .limit(1)
    )
    if holding:
        return None
    lines = inventory.order_lines_to_reserve(session, order)
    if lines is None:
        return HoldReason.UNKNOWN_SKU
    destination = inventory.destination_of(session, order)
    if not inventory.reserve_lines(session, order.id, destination, lines, lead_times):
        return HoldReason.OUT_OF_STOCK
    return None


def approve_hold(
    database: Database,
    order_id: int,
    actor: Actor,
    lead_times: allocation.LeadTimes | None = None,
) -> HoldOutcome:
    """A staff member approves a held order; it is released once enough people have.

    `lead_times` (IntakeRules.lead_times) lets a stock hold that is still short propose
    a transfer; without it none is proposed.
    """
    check_permission(actor, Permission.RELEASE_HOLDS)
    with database.write() as session:
        order = session.get(Order, order_id, with_for_update=True)
        if order is None or order.hold_reason is None:
            raise NothingHeld(order_id)
        reason = order.hold_reason
        earlier = set(_approvers(session, order_id, reason))
        if APPROVALS_NEEDED.get(reason, 1) > 1 and actor.identifier in earlier:
            raise SecondApproverNeeded(order_id)
        audit.record(
            session,
            actor,
            HOLD_APPROVED,
            subject="order",
            subject_id=order_id,
            order_id=order_id,
            after={"reason": str(reason)},
        )
        if len(earlier | {actor.identifier}) < APPROVALS_NEEDED.get(reason, 1):
            return HoldOutcome.AWAITING_SECOND
        still = _reserve_again(session, order, lead_times or allocation.NO_TRANSFERS)
        if still is not None:
            order.hold_reason = still
            return HoldOutcome.STILL_HELD
        order.hold_reason = None
        audit.record(
            session,
            actor,
            HOLD_RELEASED,
            subject="order",
            subject_id=order_id,
            order_id=order_id,
            after={"reason": str(reason)},
        )
        return HoldOutcome.RELEASED
