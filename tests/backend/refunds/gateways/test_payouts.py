"""Refund payouts against the live payments emulator: never twice, never more than was paid."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.clock import utcnow
from backend.jobs.models import Job, JobStatus
from backend.jobs.worker import Worker
from backend.orders.lifecycle import OrderStatus
from backend.refunds import payouts
from backend.refunds.models import Refund, RefundState
from tests.factories import SYSTEM, make_order


@pytest.fixture
def paid(database, emulator):
    order = make_order(database, status=OrderStatus.DELIVERED)  # 2 x 128.00 paid by WeChat
    emulator[0].seed_payment(order.public_no, order.paid_fen)
    return order


def store(database, order, amount):
    with database.write() as session:
        return payouts.start_refund(session, order.id, amount, SYSTEM).id


def worker(database, wechat):
    gateways = payouts.Gateways({"wechatpay": wechat})
    return Worker(
        database,
        {
            payouts.EXECUTE: lambda db, p: payouts.execute_refund(db, gateways, p),
            payouts.SETTLED: lambda db, p: None,
        },
    )


def refund_row(database, refund_id):
    with database.read() as session:
        return session.get(Refund, refund_id)


def settle(database, wechat, emulator, order, deadline=30.0):
    """What the reconciliation job does once the gateway has settled every refund it holds."""
    until = time.monotonic() + deadline
    while any(r.status != "SUCCESS" for r in emulator[0].refunds_of(order.public_no)):
        assert time.monotonic() < until, "the gateway never settled"
        time.sleep(0.02)
    payouts.reconcile(
        database, payouts.Gateways({"wechatpay": wechat}), now=utcnow() + timedelta(minutes=5)
    )


def test_a_refund_is_stored_with_its_key_before_the_gateway_is_called(database, paid, emulator):
    refund_id = store(database, paid, 5_000)
    stored = refund_row(database, refund_id)
    assert stored.status == RefundState.STORED
    assert stored.out_refund_no == f"RF{paid.public_no}-{refund_id}"
    assert emulator[0].refunds_of(paid.public_no) == []


def test_a_refund_is_paid_once_and_settles(database, paid, emulator, wechat):
    refund_id = store(database, paid, 5_000)
    worker(database, wechat).run_until_idle()
    assert refund_row(database, refund_id).status == RefundState.PROCESSING
    settle(database, wechat, emulator, paid)
    done = refund_row(database, refund_id)
    assert done.status == RefundState.SUCCESS and done.received_account
    assert emulator[0].refunded_fen(paid.public_no) == 5_000


def test_a_timeout_after_the_gateway_refunded_still_pays_once(database, paid, emulator, wechat):
    emulator[0].faults.hang_next = 1
    refund_id = store(database, paid, 7_000)
    runner = worker(database, wechat)
    runner.run_until_idle()
    assert "Timeout" in (refund_row(database, refund_id).last_error or "") or "timed out" in (
        refund_row(database, refund_id).last_error or ""
    )
    with database.write() as session:
        for job in session.scalars(select(Job).where(Job.kind == payouts.EXECUTE)):
            job.run_at = utcnow()
    runner.run_until_idle()
    settle(database, wechat, emulator, paid)
    assert len(emulator[0].refunds_of(paid.public_no)) == 1
    assert emulator[0].refunded_fen(paid.public_no) == 7_000
    assert refund_row(database, refund_id).status == RefundState.SUCCESS


def test_a_500_then_success_pays_once(database, paid, emulator, wechat):
    emulator[0].faults.fail_next = 1
    refund_id = store(database, paid, 3_000)
    runner = worker(database, wechat)
    runner.run_until_idle()
    with database.read() as session:
        job = session.scalars(select(Job).where(Job.kind == payouts.EXECUTE)).one()
    assert job.status == JobStatus.PENDING and job.attempts == 1
    with database.write() as session:
        session.get(Job, job.id).run_at = utcnow()
    runner.run_until_idle()
    settle(database, wechat, emulator, paid)
    assert len(emulator[0].refunds_of(paid.public_no)) == 1
    assert refund_row(database, refund_id).status == RefundState.SUCCESS


def test_duplicate_and_early_notifies_change_a_refund_once(database, paid, emulator, wechat, inbox):
    emulator[0].faults.duplicate_notify = True
    emulator[0].faults.notify_before_response = True
    refund_id = store(database, paid, 2_000)
    worker(database, wechat).run_until_idle()
    deliveries = inbox[0].wait_for(2)
    changes = [
        payouts.apply_gateway_result(database, wechat.read_notify(headers, body).refund)
        for headers, body in deliveries
    ]
    assert changes.count(True) == 1
    assert refund_row(database, refund_id).status == RefundState.SUCCESS
    with database.read() as session:
        settled_jobs = session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == payouts.SETTLED)
        )
    assert settled_jobs == 1


def test_more_than_was_paid_is_refused_before_anything_is_stored(database, paid):
    store(database, paid, paid.paid_fen - 100)
    with pytest.raises(payouts.RefundExceedsPayment):
        store(database, paid, 101)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Refund)) == 1


def test_twenty_concurrent_refunds_on_one_payment_never_exceed_it(database, paid):
    amount = 3_000  # 8 fit into 256.00, the other 12 must be refused
    outcomes: list[str] = []
    barrier = threading.Barrier(20)

    def ask() -> None:
        barrier.wait()
        try:
            store(database, paid, amount)
            outcomes.append("stored")
        except payouts.RefundExceedsPayment:
            outcomes.append("refused")

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with database.read() as session:
        total = payouts.committed_fen(session, paid.id)
    assert outcomes.count("stored") == paid.paid_fen // amount
    assert total <= paid.paid_fen and total == outcomes.count("stored") * amount


def test_a_refund_with_no_gateway_configured_fails_visibly_instead_of_waiting(database, paid):
    refund_id = store(database, paid, 1_000)
    empty = payouts.Gateways({})
    Worker(
        database,
        {
            payouts.EXECUTE: lambda db, p: payouts.execute_refund(db, empty, p),
            payouts.SETTLED: lambda db, p: None,
        },
    ).run_until_idle()
    failed = refund_row(database, refund_id)
    assert failed.status == RefundState.FAILED and "no wechatpay gateway" in failed.last_error
