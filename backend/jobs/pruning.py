"""Pruning: finished jobs are deleted after a retention, in batches; dead ones are never."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from backend.clock import utcnow
from backend.db import Database
from backend.jobs.models import Job, JobStatus

PRUNE = "jobs.prune"  # periodic job
BATCH = 1_000


def prune_finished(
    database: Database, retention: timedelta, now: datetime | None = None, batch: int = BATCH
) -> int:
    """Delete DONE jobs finished more than `retention` ago. Returns how many.

    One transaction per batch, so the web's writes (and on SQLite the single write lock)
    get their turn in between. A key frees up with its job: an enqueue with the same key
    after the retention makes a new job, which every handler being safe twice allows.
    """
    cutoff = (now or utcnow()) - retention
    # A done job became due before it finished, so `run_at < cutoff` adds nothing but
    # lets the (status, run_at) index find the rows.
    old = (
        select(Job.id)
        .where(Job.status == JobStatus.DONE, Job.run_at < cutoff, Job.finished_at < cutoff)
        .order_by(Job.run_at)
        .limit(batch)
    )
    pruned = 0
    while True:
        with database.write() as session:
            ids = list(session.scalars(old))
            if ids:
                gone = delete(Job).where(Job.id.in_(ids), Job.status == JobStatus.DONE)
                session.execute(gone.execution_options(synchronize_session=False))
        pruned += len(ids)
        if len(ids) < batch:
            return pruned
