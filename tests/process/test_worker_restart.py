"""A worker SIGKILLed mid-job and started again takes its jobs back at once, not after a lease."""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import func, select

from backend.jobs.models import Job, JobStatus
from backend.refunds import payouts
from tests.process.deliveries import build_deliveries, orders_and_duplicates, post
from tests.process.gateway import stored_refunds, wechat_pay_gateway
from tests.process.processes import Processes, portal_environment
from tests.waiting import wait_until

# The bound for the work left at a restart to be done; not a timing of this machine.
AFTER_RESTART = 30.0
BURST, REPEATS = 1_800, 200  # 2,000 deliveries: 1,800 orders, each tenth sent twice


@pytest.fixture
def gateway(tmp_path):
    with wechat_pay_gateway(tmp_path) as running:
        yield running


def killed(process) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


def running_jobs(database, kind: str) -> int:
    with database.read() as session:
        held = (Job.kind == kind, Job.status == JobStatus.RUNNING)
        return session.scalar(select(func.count()).select_from(Job).where(*held)) or 0


def jobs_of(database, kind: str) -> list[tuple[JobStatus, int]]:
    with database.read() as session:
        rows = session.execute(select(Job.status, Job.attempts).where(Job.kind == kind))
        return sorted((status, attempts) for status, attempts in rows)


def test_refunds_cut_off_by_a_sigkill_are_each_paid_once_soon_after_the_restart(
    database, settings, gateway, tmp_path
):
    refunds = stored_refunds(database, settings, gateway, 12)
    environment = portal_environment(database, tmp_path, **gateway.settings)
    gateway.gate.shut_after = 4  # the fifth request is held: the worker is in its job
    with Processes(environment, tmp_path) as processes:
        first = processes.worker("w1")
        wait_until(lambda: gateway.gate.held, timeout=120, what="a refund in flight")
        killed(first)  # its request never reaches the gateway
        assert running_jobs(database, payouts.EXECUTE) == 1
        gateway.gate.drop()
        restarted_at = time.monotonic()
        processes.worker("w1")
        wait_until(
            lambda: all(gateway.refunds_of(order) == [amount] for order, amount in refunds),
            timeout=AFTER_RESTART,
            what="every refund to be paid",
        )
        assert time.monotonic() - restarted_at < AFTER_RESTART
        wait_until(
            lambda: all(
                status == JobStatus.DONE for status, _ in jobs_of(database, payouts.EXECUTE)
            ),
            timeout=AFTER_RESTART,
            what="the refund jobs to be marked done",
        )
    # The one cut off ran twice (once to the kill, once after); the gateway paid it once.
    assert [attempts for _, attempts in jobs_of(database, payouts.EXECUTE)] == [1] * 11 + [2]
    assert all(gateway.refunds_of(order) == [amount] for order, amount in refunds)


def test_a_burst_of_deliveries_cut_off_by_a_sigkill_all_become_orders_soon_after_the_restart(
    database, client, tmp_path
):
    distinct = build_deliveries(BURST)
    deliveries = distinct + distinct[:: BURST // REPEATS]  # Shopify retrying every tenth
    with Processes(portal_environment(database, tmp_path), tmp_path) as processes:
        first = processes.worker("w1")
        acknowledged = sum(post(client, delivery) for delivery in deliveries)
        assert acknowledged == BURST + REPEATS
        wait_until(
            lambda: sum(orders_and_duplicates(database)) >= 0.9 * acknowledged,
            timeout=600,
            what="most deliveries to be ingested",
        )
        killed(first)
        restarted_at = time.monotonic()
        processes.worker("w1")
        wait_until(
            lambda: sum(orders_and_duplicates(database)) == acknowledged,
            timeout=AFTER_RESTART,
            what="every acknowledged delivery to be an order or a known duplicate",
        )
        assert time.monotonic() - restarted_at < AFTER_RESTART
    assert orders_and_duplicates(database) == (BURST, REPEATS)


def test_a_second_worker_under_a_live_workers_name_is_refused_and_takes_nothing(database, tmp_path):
    with Processes(portal_environment(database, tmp_path), tmp_path) as processes:
        first = processes.worker("w1")
        wait_until(lambda: "running" in processes.output(first), timeout=120, what="w1 to run")
        twin = processes.worker("w1")
        assert twin.wait(timeout=120) == 2
        assert "already running" in processes.output(twin)
        assert first.poll() is None
        other = processes.worker("w2")  # another name on the same host is welcome
        wait_until(lambda: "running" in processes.output(other), timeout=120, what="w2 to run")
        for worker in (first, other):
            worker.terminate()
            assert worker.wait(timeout=120) == 0
