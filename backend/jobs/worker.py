"""The worker: claims due jobs of one kind in batches, runs their handlers, records the outcomes."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend.clock import utcnow
from backend.db import Database
from backend.jobs.leases import LEASE, kept_lease, release_slot, renew, take_slot
from backend.jobs.models import Job, JobStatus
from backend.jobs.queue import (
    MAX_ATTEMPTS,
    Batched,
    GiveUp,
    Handler,
    Periodic,
    RetryLater,
    backoff,
    enqueue,
)
from backend.jobs.wakeup import Wakeup
from backend.request_context import request_id_bound

# While notifications arrive, the idle wait ends at the next due job or lease; this poll
# only catches a job written by something that sent no notification (by hand in psql).
LISTENING_POLL = timedelta(seconds=5)

log = logging.getLogger(__name__)

# Jobs of a batch handler's kind claimed at once: one claim, one handler transaction and one
# finish per batch instead of per job. Bounded, so that a batch (channel intake: a few ms an
# order) ends soon after a stop signal; what it holds is finished, as a single job is.
BATCH_SIZE = 50

_JOBS: Table = Job.__table__  # type: ignore[assignment]  # a mapped class's Table
# The outcome of every job of a batch in one statement (executemany), each row guarded by
# the claim: a job whose lease ran out is someone else's now and is left alone.
_FINISH = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("job_id"), _JOBS.c.locked_by == bindparam("instance"))
    .values(
        locked_by=None,
        status=bindparam("new_status", type_=_JOBS.c.status.type),
        run_at=bindparam("new_run_at", type_=_JOBS.c.run_at.type),
        attempts=bindparam("new_attempts", type_=_JOBS.c.attempts.type),
        last_error=bindparam("new_last_error", type_=_JOBS.c.last_error.type),
        finished_at=bindparam("new_finished_at", type_=_JOBS.c.finished_at.type),
    )
)


@dataclass(frozen=True)
class Claimed:
    """A job as claimed: what its handler needs and what its row held before the run."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # counting this run
    run_at: datetime
    last_error: str | None
    request_id: str | None = None  # of the request that enqueued it, bound while it runs


class Worker:
    """One worker. `start()` takes its slot `name` (stable across restarts of this worker),
    `run_forever()` runs jobs until `stop()`; the job in hand is always finished first."""

    def __init__(
        self,
        database: Database,
        handlers: Mapping[str, Handler | Batched],
        periodic: list[Periodic] | None = None,
        name: str | None = None,
        lease: timedelta = LEASE,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.database = database
        self.handlers = handlers
        self.periodic = {p.kind: p for p in periodic or []}
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        # This life of the worker: what its claimed jobs carry in `locked_by`.
        self.instance = f"{os.getpid()}-{secrets.token_hex(6)}"
        self.lease = lease
        self.batch_size = max(batch_size, 1)
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

    def _take(
        self,
        session: Session,
        where: tuple[ColumnElement[bool], ...],
        order: tuple[InstrumentedAttribute[Any], ...],
        now: datetime,
        limit: int,
        kind: str | None = None,
    ) -> list[Claimed]:
        picked = select(Job.id).where(*where).order_by(*order).limit(limit)
        if kind is not None:
            picked = picked.where(Job.kind == kind)
        if not self.database.is_sqlite:
            # Several workers on PostgreSQL each take different rows.
            picked = picked.with_for_update(skip_locked=True)
        columns = _JOBS.c
        claim = (
            update(_JOBS)
            .where(columns.id.in_(picked.scalar_subquery()))
            .values(
                status=JobStatus.RUNNING,
                locked_by=self.instance,
                locked_at=now,
                attempts=columns.attempts + 1,
            )
            .returning(
                columns.id,
                columns.kind,
                columns.payload,
                columns.attempts,
                columns.run_at,
                columns.last_error,
                columns.request_id,
            )
        )
        return [Claimed(*row) for row in session.execute(claim)]

    def _claim_from(self, session: Session, now: datetime, limit: int) -> list[Claimed]:
        # Due jobs first, read in index order (status, run_at); abandoned ones (a worker
        # died holding them) only when nothing is due. One query with an OR of both made
        # the database sort every due row to take one, slower as the backlog grew.
        due = (Job.status == JobStatus.PENDING, Job.run_at <= now)
        abandoned = (Job.status == JobStatus.RUNNING, Job.locked_at < now - self.lease)
        for where, order in ((due, (Job.run_at, Job.id)), (abandoned, (Job.locked_at, Job.id))):
            claimed = self._take(session, where, order, now, 1)
            if not claimed:
                continue
            # Only a batch handler's kind is claimed several at a time. A plain handler's job
            # costs its own transaction anyway, and jobs claimed but not begun would be kept
            # from idle workers and, if this one died, counted a try each.
            kind = claimed[0].kind
            if limit > 1 and isinstance(self.handlers.get(kind), Batched):
                claimed += self._take(session, where, order, now, limit - 1, kind)
            return sorted(claimed, key=lambda job: (job.run_at, job.id))
        return []

    def claim_batch(self, now: datetime | None = None, limit: int | None = None) -> list[Claimed]:
        """The first due job and, for a batch handler's kind, up to `limit` (the batch size)
        due jobs of its kind: one transaction, one UPDATE .. RETURNING per kind of take."""
        if self._stop.is_set():
            return []  # stopping: the jobs in hand are finished, no new one is taken
        limit = min(limit or self.batch_size, self.batch_size)
        with self.database.write() as session:
            return self._claim_from(session, now or utcnow(), limit)

    def claim(self, now: datetime | None = None) -> Claimed | None:
        """One due job (a batch of one)."""
        claimed = self.claim_batch(now, limit=1)
        return claimed[0] if claimed else None

    def _finish(self, outcomes: list[tuple[Claimed, dict[str, Any]]]) -> None:
        rows = [
            {
                "job_id": job.id,
                "instance": self.instance,
                "new_status": values["status"],
                "new_run_at": values.get("run_at", job.run_at),
                "new_attempts": values.get("attempts", job.attempts),
                "new_last_error": values.get("last_error", job.last_error),
                "new_finished_at": values.get("finished_at"),
            }
            for job, values in outcomes
        ]
        with self.database.write() as session:
            session.execute(_FINISH, rows)

    def run_one(self) -> bool:
        """Claim and run one due job. Returns False when nothing was due."""
        return self.run_batch(limit=1) > 0

    def run_batch(self, limit: int | None = None) -> int:
        """Claim up to a batch of due jobs of one kind, run them, record every outcome at once.

        Returns how many ran (0 when nothing was due).
        """
        claimed = self.claim_batch(limit=limit)
        if not claimed:
            return 0
        ids = [job.id for job in claimed]
        with kept_lease(self.database, ids, self.instance, self._slot, self.lease):
            handler = self.handlers.get(claimed[0].kind)
            if isinstance(handler, Batched):
                outcomes = self._run_batched(handler, claimed)
            else:
                outcomes = self._run_each(handler, claimed)
        self._finish(outcomes)
        return len(outcomes)

    def _run_batched(
        self, handler: Batched, claimed: list[Claimed]
    ) -> list[tuple[Claimed, dict[str, Any]]]:
        try:
            errors = handler.run(self.database, [dict(job.payload) for job in claimed])
            if len(errors) != len(claimed):
                raise RuntimeError(f"{len(errors)} outcomes for {len(claimed)} jobs")
        except Exception as error:  # the batch as a whole failed: every job records it
            errors = [error] * len(claimed)
        return [
            (job, self._outcome(job, error)) for job, error in zip(claimed, errors, strict=True)
        ]

    def _run_each(
        self, handler: Handler | None, claimed: list[Claimed]
    ) -> list[tuple[Claimed, dict[str, Any]]]:
        return [(job, self._run(handler, job)) for job in claimed]

    def _run(self, handler: Handler | None, job: Claimed) -> dict[str, Any]:
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            # A batch mixes requests, so only a job run alone names the one it came from.
            with request_id_bound(job.request_id):
                handler(self.database, dict(job.payload))
        except Exception as error:  # every failure is recorded on the row, none escapes
            return self._outcome(job, error)
        return self._outcome(job, None)

    def _outcome(self, job: Claimed, error: BaseException | None) -> dict[str, Any]:
        """The handler's outcome, as the values the job row is left with."""
        now = utcnow()
        if isinstance(error, RetryLater):
            return {
                "status": JobStatus.PENDING,
                "run_at": now + error.delay,
                "attempts": job.attempts - 1,
                "last_error": str(error),
            }
        if error is not None:
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
                "run_at": now + repeat.interval,
                "attempts": 0,
                "last_error": None,
            }
        return {"status": JobStatus.DONE, "finished_at": now}

    def run_until_idle(self, limit: int = 10_000) -> int:
        ran = 0
        while ran < limit:
            done = self.run_batch(limit=limit - ran)
            if not done:
                break
            ran += done
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
                    busy = self.run_batch() > 0
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
        _jobs, kept = renew(self.database, self.instance, self._slot)
        if not kept:
            log.error("worker %s: another process took this slot over; stopping", self.name)
            self._slot = None
            self.stop()

    def stop(self) -> None:
        """Stop claiming; the job or batch in hand (if any) is finished, then run_forever
        returns."""
        self._stop.set()
        wakeup = self._wakeup
        if wakeup is not None:
            wakeup.interrupt()

    def pause(self, seconds: float) -> bool:
        """Wait `seconds`, less if stop() comes meanwhile; True when stopping."""
        return self._stop.wait(seconds)
