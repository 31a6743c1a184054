"""A paid-not-packed cancel against the live payments emulator: refunded once, even when the
gateway times out after it has refunded, and the cancel follows the money."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.jobs.models import Job
from backend.jobs.worker import Worker
from backend.notifications.models import Notification, NotificationEvent
from backend.orders.lifecycle import OrderStatus
from backend.refunds import cancellation, payouts
from backend.refunds.cancel_lifecycle import CancelStatus
from backend.refunds.models import OrderCancellation, Refund, RefundState
from backend.refunds.service import refund_settled
from tests.factories import make_order


def _worker(database, wechat):
    gateways = payouts.Gateways({"wechatpay": wechat})
    return Worker(
        database,
        {
            payouts.EXECUTE: lambda db, p: payouts.execute_refund(db, gateways, p),
            payouts.SETTLED: refund_settled,
        },
    )


def _due_now(database):
    with database.write() as session:
        for job in session.scalars(select(Job).where(Job.run_at > utcnow())):
            job.run_at = utcnow()


def test_a_cancel_refunds_the_whole_payment_once_although_the_gateway_timed_out(
    database, emulator, wechat
):
    order = make_order(database, status=OrderStatus.PAID)  # 2 x 128.00 by WeChat Pay
    gateway = emulator[0]
    gateway.seed_payment(order.public_no, order.paid_fen)
    gateway.faults.hang_next = 1  # it refunds, then the answer never comes in time
    buyer = Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="portal")
    first = cancellation.cancel_order(database, None, order.id, buyer, "changed_mind")
    assert first.refund_fen == order.paid_fen == 25_600
    runner = _worker(database, wechat)
    runner.run_until_idle()
    with database.read() as session:
        unsure = session.scalars(select(Refund).where(Refund.order_id == order.id)).one()
        assert unsure.status == RefundState.STORED
        assert (
            "timed out" in (unsure.last_error or "").lower()
            or "timeout" in (unsure.last_error or "").lower()
        )
    # The customer taps again while the refund is unsure: the same cancel, no new money.
    assert cancellation.cancel_order(database, None, order.id, buyer, "changed_mind").repeated
    _due_now(database)
    runner.run_until_idle()
    payouts.reconcile(
        database, payouts.Gateways({"wechatpay": wechat}), now=utcnow() + timedelta(minutes=5)
    )
    _due_now(database)
    runner.run_until_idle()
    assert len(gateway.refunds_of(order.public_no)) == 1
    assert gateway.refunded_fen(order.public_no) == 25_600
    with database.read() as session:
        row = session.scalars(
            select(OrderCancellation).where(OrderCancellation.order_id == order.id)
        ).one()
        assert row.status == CancelStatus.DONE
        refund = session.get(Refund, row.refund_id)
        assert refund.status == RefundState.SUCCESS
        told = session.scalars(
            select(Notification.event).where(Notification.order_id == order.id)
        ).all()
    assert told.count(NotificationEvent.REFUND_SUCCEEDED) >= 1
