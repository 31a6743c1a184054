"""The worker: claims due jobs one at a time, runs their handlers, records the outcome."""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.db import Database, utcnow
from backend.jobs.models import Job, JobStatus
from backend.jobs.queue import MAX_ATTEMPTS, GiveUp, Handler, Periodic, RetryLater, backoff, enqueue

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


class Worker:
    def __init__(
        self,
        database: Database,
        handlers: dict[str, Handler],
        periodic: list[Periodic] | None = None,
        name: str | None = None,
    ) -> None:
        self.database = database
        self.handlers = handlers
        self.periodic = {p.kind: p for p in periodic or []}
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self._stop = threading.Event()

    def arm_periodic(self) -> None:
        with self.database.write() as session:
            for kind in self.periodic:
                enqueue(session, kind, key=f"periodic:{kind}")

    def _next(self, session: Session, now: datetime) -> Job | None:
        # Due jobs first, read in index order (status, run_at); abandoned ones (a worker
        # died holding them) only when nothing is due. One query with an OR of both made
        # the database sort every due row to take one, slower as the backlog grew.
        due = (
            select(Job)
            .where(Job.status == JobStatus.PENDING, Job.run_at <= now)
            .order_by(Job.run_at, Job.id)
            .limit(1)
        )
        abandoned = (
            select(Job)
            .where(Job.status == JobStatus.RUNNING, Job.locked_at < now - LEASE)
            .order_by(Job.locked_at)
            .limit(1)
        )
        for statement in (due, abandoned):
            if not self.database.is_sqlite:
                # Several workers on PostgreSQL each take a different row.
                statement = statement.with_for_update(skip_locked=True)
            job = session.scalars(statement).first()
            if job is not None:
                return job
        return None

    def claim(self, now: datetime | None = None) -> Job | None:
        now = now or utcnow()
        with self.database.write() as session:
            job = self._next(session, now)
            if job is None:
                return None
            job.status = JobStatus.RUNNING
            job.locked_by = self.name
            job.locked_at = now
            job.attempts += 1
            return job

    def _finish(self, job: Job, **values: Any) -> None:
        with self.database.write() as session:
            session.execute(
                update(Job).where(Job.id == job.id, Job.locked_by == self.name).values(**values)
            )

    def run_one(self) -> bool:
        """Claim and run one due job. Returns False when nothing was due."""
        job = self.claim()
        if job is None:
            return False
        handler = self.handlers.get(job.kind)
        now = utcnow()
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            handler(self.database, dict(job.payload))
        except RetryLater as wait:
            self._finish(
                job,
                status=JobStatus.PENDING,
                run_at=now + wait.delay,
                attempts=job.attempts - 1,
                last_error=str(wait),
                locked_by=None,
            )
        except Exception as error:  # every failure is recorded on the row, none escapes
            log.warning("job %s (%s) failed: %s", job.id, job.kind, type(error).__name__)
            exhausted = job.attempts >= MAX_ATTEMPTS or isinstance(error, GiveUp)
            dead = exhausted and job.kind not in self.periodic
            self._finish(
                job,
                status=JobStatus.DEAD if dead else JobStatus.PENDING,
                run_at=now + backoff(job.attempts),
                last_error=f"{type(error).__name__}: {error}"[:2000],
                locked_by=None,
            )
        else:
            repeat = self.periodic.get(job.kind)
            if repeat is not None:
                self._finish(
                    job,
                    status=JobStatus.PENDING,
                    run_at=utcnow() + repeat.interval,
                    attempts=0,
                    last_error=None,
                    locked_by=None,
                )
            else:
                self._finish(job, status=JobStatus.DONE, finished_at=utcnow(), locked_by=None)
        return True

    def run_until_idle(self, limit: int = 10_000) -> int:
        ran = 0
        while ran < limit and self.run_one():
            ran += 1
        return ran

    def run_forever(self, idle_sleep: float = 0.5) -> None:
        self.arm_periodic()
        while not self._stop.is_set():
            try:
                busy = self.run_one()
            except Exception:
                log.exception("worker loop error")
                busy = False
            if not busy:
                self._stop.wait(idle_sleep)

    def stop(self) -> None:
        self._stop.set()
