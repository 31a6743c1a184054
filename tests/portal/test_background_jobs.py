"""The portal's worker and its periodic jobs: finished jobs are pruned after the retention."""

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from backend.clock import utcnow
from backend.jobs import enqueue
from backend.jobs.models import Job, JobStatus
from backend.refunds import payouts
from portal.background import build_worker
from portal.integrations import build_integrations


def test_the_portals_worker_prunes_done_jobs_past_the_retention_and_keeps_dead_ones(
    database, settings
):
    settings = replace(settings, job_retention_days=3)
    with database.write() as session:
        for number in range(3):
            enqueue(session, payouts.SETTLED, {"refund_id": 1_000 + number})  # none: a no-op
        enqueue(session, "from-an-old-release")
    integrations = build_integrations(settings)
    try:
        worker = build_worker(database, settings, integrations, "test")
        worker.run_until_idle()
        with database.write() as session:
            done = session.scalars(select(Job).where(Job.status == JobStatus.DONE)).all()
            for job, days in zip(done, (4, 4, 2), strict=True):
                job.run_at = job.finished_at = utcnow() - timedelta(days=days)
            dead = session.scalars(select(Job).where(Job.kind == "from-an-old-release")).one()
            dead.status, dead.finished_at = JobStatus.DEAD, utcnow() - timedelta(days=90)
        worker.start()  # arms the periodic jobs, pruning among them
        worker.run_until_idle()
        worker.close()
    finally:
        integrations.close()
    with database.read() as session:
        left = session.execute(select(Job.kind, Job.status).where(Job.key.is_(None))).all()
    assert sorted(left) == [
        ("from-an-old-release", JobStatus.DEAD),
        (payouts.SETTLED, JobStatus.DONE),
    ]
