"""Several `portal worker` processes started at once: none dies, every job runs once."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import delete, func, select

from backend.jobs.models import Job, JobStatus
from backend.orders.channel_webhooks import INGEST
from backend.orders.models import ChannelEvent, Order
from tests.process.deliveries import build_deliveries, post
from tests.process.processes import Processes, portal_environment
from tests.waiting import wait_until

ROUNDS = 3
PER_ROUND = 40


@pytest.fixture
def processes(database, tmp_path):
    with Processes(portal_environment(database, tmp_path), tmp_path) as started:
        yield started


def ingest_jobs(database) -> list[tuple[JobStatus, int]]:
    with database.read() as session:
        rows = session.execute(select(Job.status, Job.attempts).where(Job.kind == INGEST))
        return [(status, attempts) for status, attempts in rows]


def count(database, model) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def ingested_or_one_died(database, workers: list[subprocess.Popen[bytes]]) -> bool:
    if any(worker.poll() is not None for worker in workers):
        return True
    return all(status == JobStatus.DONE for status, _ in ingest_jobs(database))


def test_workers_started_together_all_stay_up_and_run_every_job_once(database, client, processes):
    # One worker is the rule on SQLite; two started together must still not crash.
    size = 2 if database.is_sqlite else 4
    for round_number in range(ROUNDS):
        # As on a fresh database: every worker arms the periodic jobs at the same moment.
        with database.write() as session:
            session.execute(delete(Job).where(Job.key.like("periodic:%")))
        deliveries = build_deliveries(PER_ROUND, first=round_number * PER_ROUND)
        assert all(post(client, delivery) for delivery in deliveries)
        workers = processes.workers_together([f"w{n}" for n in range(size)])
        wait_until(
            lambda: ingested_or_one_died(database, workers),  # noqa: B023
            timeout=120,
            what="the deliveries to be ingested",
        )
        assert [w.poll() for w in workers] == [None] * size, [processes.output(w) for w in workers]
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    assert ingest_jobs(database) == [(JobStatus.DONE, 1)] * (ROUNDS * PER_ROUND)
    assert count(database, ChannelEvent) == count(database, Order) == ROUNDS * PER_ROUND
