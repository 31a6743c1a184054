"""确认收货 only on delivered orders; auto-complete after N days, once, with an audit event each."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.orders.completion import (
    ReceiptNotConfirmable,
    ReceiptNotYours,
    complete_delivered_orders,
    confirm_receipt,
)
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from tests.factories import make_order


def customer_of(order):
    return Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="sms-link")


def status_of(database, order_id):
    with database.read() as session:
        return session.get(Order, order_id).status


def completions(database, order_id):
    with database.read() as session:
        return session.scalar(
            select(func.count()).where(
                AuditEvent.order_id == order_id, AuditEvent.action == "order.complete"
            )
        )


def test_the_customer_confirms_receipt_of_a_delivered_order(database):
    order = make_order(database, status=OrderStatus.DELIVERED)
    confirm_receipt(database, order.id, customer_of(order))
    assert status_of(database, order.id) is OrderStatus.COMPLETED
    assert completions(database, order.id) == 1


@pytest.mark.parametrize("status", [OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED])
def test_receipt_of_an_order_not_delivered_is_refused_and_nothing_changes(database, status):
    order = make_order(database, status=status)
    before = completions(database, order.id)
    with pytest.raises(ReceiptNotConfirmable):
        confirm_receipt(database, order.id, customer_of(order))
    assert status_of(database, order.id) is status
    assert completions(database, order.id) == before


def test_someone_elses_customer_cannot_confirm_receipt(database):
    order = make_order(database, status=OrderStatus.DELIVERED)
    other = make_order(database, status=OrderStatus.DELIVERED)
    with pytest.raises(ReceiptNotYours):
        confirm_receipt(database, order.id, customer_of(other))
    assert status_of(database, order.id) is OrderStatus.DELIVERED


def test_orders_delivered_n_days_ago_complete_once_however_often_the_job_runs(database):
    old = make_order(database, status=OrderStatus.DELIVERED)
    fresh = make_order(database, status=OrderStatus.DELIVERED)
    shipped = make_order(database, status=OrderStatus.SHIPPED)
    with database.write() as session:
        session.get(Order, old.id).delivered_at = utcnow() - timedelta(days=7, minutes=1)
        session.get(Order, fresh.id).delivered_at = utcnow() - timedelta(days=6, hours=23)
    assert complete_delivered_orders(database, 7) == [old.id]
    assert complete_delivered_orders(database, 7) == []
    assert status_of(database, old.id) is OrderStatus.COMPLETED
    assert status_of(database, fresh.id) is OrderStatus.DELIVERED
    assert status_of(database, shipped.id) is OrderStatus.SHIPPED
    assert completions(database, old.id) == 1
    with database.read() as session:
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.order_id == old.id, AuditEvent.action == "order.complete"
            )
        ).one()
    assert event.actor_kind is ActorKind.SYSTEM and event.actor_id == "auto-complete"
