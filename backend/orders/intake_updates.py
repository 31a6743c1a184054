"""Deliveries for orders already stored: a newer version applied, a close, parcels shipped outside.

Called by intake (backend/orders/intake.py) inside the arrival's SAVEPOINT, with the order
row locked.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor
from backend.orders import inventory
from backend.orders.channels import CanonicalOrder, supersedes
from backend.orders.channels.canonical import CanonicalParcel
from backend.orders.intake_new_orders import CLOSED_BY_CHANNEL
from backend.orders.lifecycle import OrderAction, OrderStatus, can
from backend.orders.models import IntakeOutcome, Order
from backend.orders.service import transition

# An order closed after packing may have waybills booked at a carrier; fulfilment gives
# them back (the order core never calls carriers). Payload: {"order_id": ...}.
ORDER_CLOSED = "orders.closed_by_channel"
# Job: record those parcels once the order is stored; fulfilment handles it (orders may not
# call fulfilment, which builds on orders).
CHANNEL_PARCELS = "fulfilment.channel_parcels"


def queue_parcels(
    session: Session, event_id: int, order_id: int, order: CanonicalOrder, actor: Actor
) -> None:
    """Known carriers go to fulfilment in one job; an unknown one is noted on the event."""
    known: list[dict[str, object]] = []
    for parcel in order.parcels:
        if parcel.carrier_code is None:
            audit.record(
                session,
                actor,
                "channel.parcel_skipped",
                subject="channel_event",
                subject_id=event_id,
                order_id=order_id,
                after={"carrier": parcel.channel_carrier, "tracking_no": parcel.tracking_no},
            )
            continue
        known.append(_parcel_job(session, str(order.channel), parcel))
    if known:
        # Per channel version: a newer update naming the same parcels asks again (the order
        # may have been released from a hold since), and recording them twice is a no-op.
        numbers = ",".join(sorted(f"{p['carrier']}:{p['tracking_no']}" for p in known))
        numbers += f"@{order.updated_at.isoformat() if order.updated_at else ''}"
        digest = hashlib.sha256(numbers.encode()).hexdigest()[:32]
        jobs.enqueue(
            session,
            CHANNEL_PARCELS,
            {"order_id": order_id, "channel": str(order.channel), "parcels": known},
            key=f"parcels:{order_id}:{digest}",
        )


def _parcel_job(session: Session, channel: str, parcel: CanonicalParcel) -> dict[str, object]:
    # Lines are stored under our SKU code when the channel's SKU maps to one (_lines_and_stock).
    lines = []
    for channel_sku, quantity in parcel.lines:
        sku = inventory.resolve_sku(session, channel, channel_sku)
        lines.append([sku.code if sku else channel_sku, quantity])
    return {"carrier": parcel.carrier_code, "tracking_no": parcel.tracking_no, "lines": lines}


def update_stored(
    session: Session, stored: Order, order: CanonicalOrder, actor: Actor
) -> IntakeOutcome:
    """A strictly newer version of the order is applied; an older or equal one changes nothing."""
    if not supersedes(order, stored.channel_updated_at):
        return IntakeOutcome.IGNORED_OLDER
    stored.channel_updated_at = order.updated_at
    current = OrderStatus(stored.status)
    if order.status in CLOSED_BY_CHANNEL:
        _close(session, stored, current, actor)
    elif order.status != OrderStatus.PENDING_PAYMENT and can(current, OrderAction.PAY):
        transition(session, stored, OrderAction.PAY, actor, order.paid_at)
    return IntakeOutcome.UPDATED


def _close(session: Session, stored: Order, current: OrderStatus, actor: Actor) -> None:
    """Closed on the channel. Before packing it is cancelled here too; once packed the
    lifecycle keeps its status (the goods may be on their way), but a label not yet
    collected must not travel: the order's labels are voided by a job."""
    if can(current, OrderAction.CANCEL):
        transition(session, stored, OrderAction.CANCEL, actor)
        inventory.release(session, stored.id)
    if stored.address_locked_at is None:
        return
    jobs.enqueue(session, ORDER_CLOSED, {"order_id": stored.id}, key=f"closed:{stored.id}")
    audit.record(
        session,
        actor,
        "order.closed_by_channel",
        subject="order",
        subject_id=stored.id,
        order_id=stored.id,
        before={"status": str(current)},
        after={"status": str(stored.status)},
    )
