"""SIGTERM or SIGINT mid-job: the worker finishes the job in hand, takes no other, exits 0."""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import select

from backend.jobs.models import Job, JobStatus, WorkerSlot
from backend.refunds import payouts
from backend.refunds.models import Refund, RefundState
from tests.process.gateway import stored_refunds, wechat_pay_gateway
from tests.process.processes import PORTAL, Processes, portal_environment
from tests.waiting import wait_until


@pytest.fixture
def gateway(tmp_path):
    with wechat_pay_gateway(tmp_path) as running:
        yield running


@pytest.fixture
def processes(database, tmp_path, gateway):
    environment = portal_environment(database, tmp_path, **gateway.settings)
    with Processes(environment, tmp_path) as started:
        yield started


def job_rows(database) -> dict[int, tuple[str, JobStatus, int]]:
    with database.read() as session:
        rows = session.execute(select(Job.id, Job.kind, Job.status, Job.attempts))
        return {id_: (kind, status, attempts) for id_, kind, status, attempts in rows}


def refund_states(database) -> list[RefundState]:
    with database.read() as session:
        return list(session.scalars(select(Refund.status).order_by(Refund.id)))


def signal_mid_refund(gateway, process, signum) -> int:
    """Stop `process` while its worker waits on the gateway for the first refund."""
    wait_until(lambda: gateway.gate.held, timeout=120, what="the worker to call the gateway")
    process.send_signal(signum)
    gateway.gate.open()  # the gateway answers only now: the job was still in hand
    return process.wait(timeout=120)


def assert_only_the_first_refund_ran(database, gateway, refunds, before):
    """The job in hand finished; every other job is as it was, or armed and never claimed."""
    after = job_rows(database)
    first, second = (i for i, (kind, _, _) in sorted(before.items()) if kind == payouts.EXECUTE)
    assert after[first] == (payouts.EXECUTE, JobStatus.DONE, 1)
    assert after[second] == before[second] == (payouts.EXECUTE, JobStatus.PENDING, 0)
    for job_id, (kind, status, attempts) in after.items():
        if job_id != first:
            assert before.get(job_id, (kind, JobStatus.PENDING, 0)) == (kind, status, attempts)
    assert refund_states(database) == [RefundState.PROCESSING, RefundState.STORED]
    (first_order, first_amount), (second_order, _) = refunds
    assert gateway.refunds_of(first_order) == [first_amount]
    assert gateway.refunds_of(second_order) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_mid_job_finishes_that_job_claims_no_other_and_exits_0(
    database, settings, gateway, processes, signum
):
    refunds = stored_refunds(database, settings, gateway, 2)
    before = job_rows(database)
    gateway.gate.shut = True
    worker = processes.worker("w1")
    assert signal_mid_refund(gateway, worker, signum) == 0, processes.output(worker)
    assert_only_the_first_refund_ran(database, gateway, refunds, before)


def test_portal_serve_stops_its_embedded_worker_after_the_job_in_hand(
    database, settings, gateway, processes
):
    refunds = stored_refunds(database, settings, gateway, 2)
    before = job_rows(database)
    gateway.gate.shut = True
    server = processes.start([str(PORTAL), "serve", "--port", "0"], embedded_worker=1)
    assert signal_mid_refund(gateway, server, signal.SIGTERM) == 0, processes.output(server)
    assert_only_the_first_refund_ran(database, gateway, refunds, before)


def test_portal_serve_with_two_web_processes_stops_its_one_worker_after_the_job_in_hand(
    database, settings, gateway, processes
):
    refunds = stored_refunds(database, settings, gateway, 2)
    before = job_rows(database)
    gateway.gate.shut = True
    command = [str(PORTAL), "serve", "--port", "0", "--workers", "2"]
    server = processes.start(command, embedded_worker=1)
    assert signal_mid_refund(gateway, server, signal.SIGTERM) == 0, processes.output(server)
    assert_only_the_first_refund_ran(database, gateway, refunds, before)
    # The worker ran once, in the supervisor: one slot, held by the process signalled.
    with database.read() as session:
        slots = session.execute(select(WorkerSlot.pid, WorkerSlot.stopped_at)).all()
    assert [pid for pid, _stopped in slots] == [server.pid]
    assert all(stopped is not None for _pid, stopped in slots)
