"""确认收货 and auto-complete: a delivered order becomes completed by the customer or by time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.orders.lifecycle import OrderAction, OrderStatus
from backend.orders.models import Order
from backend.orders.service import OrderNotFound, transition

AUTO_COMPLETE = "orders.auto_complete"  # periodic job
AUTO_COMPLETE_BATCH = 200  # per run and transaction; the next run takes the rest


class ReceiptNotConfirmable(Exception):
    """Only a delivered order can be confirmed as received (not one still on its way)."""

    def __init__(self, status: OrderStatus) -> None:
        super().__init__(f"cannot confirm receipt of an order that is {status}")
        self.status = status


class ReceiptNotYours(Exception):
    """Only the order's own customer confirms receipt."""


def confirm_receipt(
    database: Database, order_id: int, actor: Actor, now: datetime | None = None
) -> OrderStatus:
    """确认收货: the customer says the parcel arrived; the order completes now."""
    with database.write() as session:
        order = session.get(Order, order_id, with_for_update=True)
        if order is None:
            raise OrderNotFound(order_id)
        # Customer actors are named after the order whose page they act from.
        if actor.kind != ActorKind.CUSTOMER or actor.identifier != f"customer:{order.public_no}":
            raise ReceiptNotYours(f"{actor.kind}:{actor.identifier} on order {order_id}")
        if OrderStatus(order.status) != OrderStatus.DELIVERED:
            raise ReceiptNotConfirmable(OrderStatus(order.status))
        return transition(session, order, OrderAction.COMPLETE, actor, now)


def complete_delivered_orders(
    database: Database, after_days: int, now: datetime | None = None
) -> list[int]:
    """Complete orders delivered `after_days` ago or more; safe to run twice or side by side.

    The status is the guard: a second run (or a second worker) finds them completed
    already, and an order with an after-sale open is no longer DELIVERED, so it waits.
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=after_days)
    actor = Actor.system("auto-complete")
    with database.write() as session:
        orders = session.scalars(
            select(Order)
            .where(
                Order.status == OrderStatus.DELIVERED,
                Order.delivered_at.is_not(None),
                Order.delivered_at <= cutoff,
            )
            .order_by(Order.delivered_at, Order.id)
            .limit(AUTO_COMPLETE_BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for order in orders:
            transition(session, order, OrderAction.COMPLETE, actor, now)
        return [order.id for order in orders]
