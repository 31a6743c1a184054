"""The worker: claims due jobs one at a time, runs their handlers, records the outcome."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.clock import utcnow
from backend.db import Database
from backend.jobs.leases import LEASE, kept_lease, release_slot, renew, take_slot
from backend.jobs.models import Job, JobStatus
from backend.jobs.queue import MAX_ATTEMPTS, GiveUp, Handler, Periodic, RetryLater, backoff, enqueue
from backend.jobs.wakeup import Wakeup
from backend.request_context import request_id_bound

# While notifications arrive, the idle wait ends at the next due job or lease; this poll
# only catches a job written by something that sent no notification (by hand in psql).
LISTENING_POLL = timedelta(seconds=5)

log = logging.getLogger(__name__)


class Worker:
    """One worker. `start()` takes its slot `name` (stable across restarts of this worker),
    `run_forever()` runs jobs until `stop()`; the job in hand is always finished first."""

    def __init__(
        self,
        database: Database,
        handlers: dict[str, Handler],
        periodic: list[Periodic] | None = None,
        name: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self.database = database
        self.handlers = handlers
        self.periodic = {p.kind: p for p in periodic or []}
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        # This life of the worker: what its claimed jobs carry in `locked_by`.
        self.instance = f"{os.getpid()}-{secrets.token_hex(6)}"
        self.lease = lease
        self._slot: str | None = None  # the slot's name once start() has taken it
        self._last_beat = utcnow()
        self._stop = threading.Event()
        self._wakeup: Wakeup | None = None  # while run_forever runs

    def start(self) -> int:
        """Take the slot (raises SlotInUse for a live twin), take back what this worker's
        previous life held, arm the periodic jobs. Returns how many jobs were taken back."""
        taken = take_slot(self.database, self.name, self.instance, set(self.periodic), self.lease)
        self._slot, self._last_beat = self.name, utcnow()
        self.arm_periodic()
        return taken

    def close(self) -> None:
        if self._slot is not None:
            release_slot(self.database, self._slot, self.instance)
            self._slot = None

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
            .where(Job.status == JobStatus.RUNNING, Job.locked_at < now - self.lease)
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
        if self._stop.is_set():
            return None  # stopping: the job in hand is finished, no new one is taken
        now = now or utcnow()
        with self.database.write() as session:
            job = self._next(session, now)
            if job is None:
                return None
            job.status = JobStatus.RUNNING
            job.locked_by = self.instance
            job.locked_at = now
            job.attempts += 1
            return job

    def _finish(self, job: Job, **values: Any) -> None:
        with self.database.write() as session:
            session.execute(
                update(Job)
                .where(Job.id == job.id, Job.locked_by == self.instance)
                .values(locked_by=None, **values)
            )

    def run_one(self) -> bool:
        """Claim and run one due job. Returns False when nothing was due."""
        job = self.claim()
        if job is None:
            return False
        with (
            request_id_bound(job.request_id),
            kept_lease(self.database, job.id, self.instance, self._slot, self.lease),
        ):
            outcome = self._run(job)
        self._finish(job, **outcome)
        return True

    def _run(self, job: Job) -> dict[str, Any]:
        """The handler's outcome, as the values the job row is left with."""
        handler = self.handlers.get(job.kind)
        now = utcnow()
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            handler(self.database, dict(job.payload))
        except RetryLater as wait:
            return {
                "status": JobStatus.PENDING,
                "run_at": now + wait.delay,
                "attempts": job.attempts - 1,
                "last_error": str(wait),
            }
        except Exception as error:  # every failure is recorded on the row, none escapes
            log.warning(
                "job %s (%s) failed: %s",
                job.id,
                job.kind,
                type(error).__name__,
                extra={"job_id": job.id, "job_kind": job.kind},
            )
            exhausted = job.attempts >= MAX_ATTEMPTS or isinstance(error, GiveUp)
            dead = exhausted and job.kind not in self.periodic
            return {
                "status": JobStatus.DEAD if dead else JobStatus.PENDING,
                "run_at": now + backoff(job.attempts),
                "last_error": f"{type(error).__name__}: {error}"[:2000],
                "finished_at": now if dead else None,
            }
        repeat = self.periodic.get(job.kind)
        if repeat is not None:
            return {
                "status": JobStatus.PENDING,
                "run_at": utcnow() + repeat.interval,
                "attempts": 0,
                "last_error": None,
            }
        return {"status": JobStatus.DONE, "finished_at": utcnow()}

    def run_until_idle(self, limit: int = 10_000) -> int:
        ran = 0
        while ran < limit and self.run_one():
            ran += 1
        return ran

    def run_forever(self, idle_sleep: float = 0.5, listen: bool = True) -> None:
        """Until stop(): start() first unless done already, close() (a clean stop) at the end.

        Idle, it polls every `idle_sleep` s; on PostgreSQL (unless `listen` is False) it
        waits instead for a job notification, the next due job or lease, or LISTENING_POLL.
        """
        if self._slot is None:
            self.start()
        listens = listen and not self.database.is_sqlite
        wakeup = self._wakeup = Wakeup(self.database.url if listens else None)
        try:
            while not self._stop.is_set():
                try:
                    busy = self.run_one()
                    self._keep_slot()
                except Exception:
                    log.exception("worker loop error")
                    busy = False
                if not busy and not self._stop.is_set():
                    wakeup.wait(self._idle_seconds(wakeup, idle_sleep))
        finally:
            self._wakeup = None
            wakeup.close()
            self.close()

    def _idle_seconds(self, wakeup: Wakeup, idle_sleep: float) -> float:
        if not wakeup.listening:
            return idle_sleep
        now = utcnow()
        until = now + LISTENING_POLL
        if self._slot is not None:
            until = min(until, self._last_beat + self.lease / 3)
        try:
            with self.database.read() as session:
                due = session.scalar(
                    select(func.min(Job.run_at)).where(Job.status == JobStatus.PENDING)
                )
                held = session.scalar(
                    select(func.min(Job.locked_at)).where(Job.status == JobStatus.RUNNING)
                )
        except Exception as error:  # the database away: the next claim tells, the poll retries
            log.debug("next due job not read: %s", type(error).__name__)
            return idle_sleep
        for moment in (due, held + self.lease if held is not None else None):
            if moment is not None:
                until = min(until, moment)
        return max((until - now).total_seconds(), 0.0)

    def _keep_slot(self) -> None:
        """The idle heartbeat (a running job's lease thread beats meanwhile)."""
        if self._slot is None or utcnow() - self._last_beat < self.lease / 3:
            return
        self._last_beat = utcnow()
        _job, kept = renew(self.database, self.instance, self._slot)
        if not kept:
            log.error("worker %s: another process took this slot over; stopping", self.name)
            self._slot = None
            self.stop()

    def stop(self) -> None:
        """Stop claiming; the job in hand (if any) is finished, then run_forever returns."""
        self._stop.set()
        wakeup = self._wakeup
        if wakeup is not None:
            wakeup.interrupt()

    def pause(self, seconds: float) -> bool:
        """Wait `seconds`, less if stop() comes meanwhile; True when stopping."""
        return self._stop.wait(seconds)
