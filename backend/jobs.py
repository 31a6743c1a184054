"""Durable background work: a job is a row, claimed by a worker, retried with backoff.

A job is written in the same transaction as the change that causes it, so a crash
can lose neither. Handlers must be safe to run twice: a worker may die after the
work but before marking it done, and the lease then hands the job to another.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base, Database, EnumText, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"  # gave up after MAX_ATTEMPTS; shown to staff, never silently dropped


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "status", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Enqueuing the same key twice is a no-op: the first job stands.
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[JobStatus] = mapped_column(EnumText(JobStatus, 10), default=JobStatus.PENDING)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_by: Mapped[str | None] = mapped_column(String(80))
    locked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class RetryLater(Exception):
    """A handler's way of saying "not now, try again after `delay`" without counting a failure."""

    def __init__(self, delay: timedelta, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay}")
        self.delay = delay


class GiveUp(Exception):
    """A handler's way of saying "this will never succeed": the job goes straight to DEAD."""


@dataclass(frozen=True)
class Periodic:
    """A job that re-arms itself every `interval` once it has run."""

    kind: str
    interval: timedelta


# What a handler returns is ignored; only raising (or not) matters.
Handler = Callable[[Database, dict[str, Any]], object]


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    run_at: datetime | None = None,
) -> None:
    """Add a job inside the caller's transaction; a known key is silently kept as it is."""
    if key is not None and session.scalar(select(Job.id).where(Job.key == key)) is not None:
        return
    session.add(Job(kind=kind, payload=payload or {}, key=key, run_at=run_at or utcnow()))


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s ... capped at one hour."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


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
