"""`portal worker` on PostgreSQL listens for jobs, and survives losing the listening connection."""

from __future__ import annotations

import time

from sqlalchemy import select

from backend.jobs.models import Job, JobStatus
from backend.jobs.queue import enqueue
from tests.process.processes import Processes, portal_environment
from tests.waiting import wait_until

OUTAGE_SECONDS = 3.0
# A real handler that needs nothing outside: told of an address version that is not there.
ADDRESS_CHANGED = "address.changed"


def enqueue_job(database) -> int:
    with database.write() as session:
        enqueue(session, ADDRESS_CHANGED, {"version_id": 0})
        return session.scalars(select(Job.id).order_by(Job.id.desc())).first() or 0


def status_of(database, job_id: int) -> JobStatus | None:
    with database.read() as session:
        return session.scalar(select(Job.status).where(Job.id == job_id))


def test_a_worker_that_loses_its_listener_polls_listens_again_and_exits_0(
    postgres_database, postgres_proxy, tmp_path
):
    proxy, url = postgres_proxy
    environment = portal_environment(postgres_database, tmp_path) | {"PORTAL_DATABASE_URL": url}
    with Processes(environment, tmp_path) as processes:
        worker = processes.worker("listener")
        wait_until(lambda: "running" in processes.output(worker), timeout=120, what="the worker")
        first = enqueue_job(postgres_database)
        wait_until(lambda: status_of(postgres_database, first) == JobStatus.DONE, timeout=120)

        proxy.refuse()  # the listener and every pooled connection are cut
        time.sleep(OUTAGE_SECONDS)
        during = enqueue_job(postgres_database)  # its NOTIFY reaches no worker
        proxy.listen()

        wait_until(lambda: status_of(postgres_database, during) == JobStatus.DONE, timeout=120)
        wait_until(
            lambda: "job notifications again" in processes.output(worker),
            timeout=120,
            what="the worker to listen again",
        )
        after = enqueue_job(postgres_database)
        wait_until(lambda: status_of(postgres_database, after) == JobStatus.DONE, timeout=120)
        assert worker.poll() is None
        worker.terminate()
        assert worker.wait(timeout=120) == 0, processes.output(worker)
    log = processes.output(worker)
    assert log.count("job notifications unavailable") == 1, log
