"""Leases: how long a worker holds a job, the heartbeat that keeps it, and taking back a dead one's.

A claimed job carries the claiming life's `instance` in `locked_by` and a `locked_at`
that a heartbeat thread renews while the handler runs, so the lease can be short
without a slow handler losing its job to another worker. A job whose lease ran out
(its worker stopped renewing it) is claimed again by anyone.

A worker that restarts does not wait for that: its slot (`workers`, one row per
host:name) names the instance it was before, and whatever that instance still holds
was abandoned by its death and is put back at once. The same name started twice is
refused while the other holder is alive (a fresh heartbeat and, on this host, a live
process), since taking back a living worker's jobs would run them twice at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.clock import utcnow
from backend.db import Database
from backend.jobs.models import Job, JobStatus, WorkerSlot
from backend.jobs.queue import MAX_ATTEMPTS

log = logging.getLogger(__name__)

# Renewed every third of it, so two missed beats (a busy machine, a slow commit) still hold.
LEASE = timedelta(seconds=30)


class SlotInUse(Exception):
    """Another live process runs as this worker: each worker needs a name of its own."""

    def __init__(self, name: str, host: str, pid: int) -> None:
        super().__init__(f"worker {name} is already running (pid {pid} on {host})")
        self.name, self.host, self.pid = name, host, pid


def this_host() -> str:
    return socket.gethostname()[:100]  # as the column keeps it


def is_process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _held_by_a_live_twin(slot: WorkerSlot, fresh_after: datetime) -> bool:
    if slot.stopped_at is not None or slot.heartbeat_at < fresh_after:
        return False
    if slot.host != this_host():
        return True  # beating elsewhere a moment ago: nothing here can tell it is dead
    return slot.pid != os.getpid() and is_process_alive(slot.pid)


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def take_slot(
    database: Database,
    name: str,
    instance: str,
    periodic: Collection[str] = (),
    lease: timedelta = LEASE,
) -> int:
    """Hold slot `name` for this life; re-queue the jobs its previous life held. How many."""
    now = utcnow()
    values = {
        "name": name,
        "instance": instance,
        "host": this_host(),
        "pid": os.getpid(),
        "started_at": now,
        "heartbeat_at": now,
        "stopped_at": None,
    }
    with database.write() as session:
        dialect = sqlite if database.is_sqlite else postgresql
        # Two lives starting at once: the second waits on the first's row, then sees it.
        first = dialect.insert(WorkerSlot).values(values).on_conflict_do_nothing()
        if session.scalar(first.returning(WorkerSlot.name)) is not None:
            return 0  # a new slot: no previous life
        slot = session.get(WorkerSlot, name, with_for_update=True, populate_existing=True)
        assert slot is not None
        if _held_by_a_live_twin(slot, now - lease):
            raise SlotInUse(name, slot.host, slot.pid)
        previous = slot.instance
        for field, value in values.items():
            setattr(slot, field, value)
        return _take_back(session, previous, name, periodic, now)


def _take_back(
    session: Session, instance: str, name: str, periodic: Collection[str], now: datetime
) -> int:
    held = (Job.status == JobStatus.RUNNING, Job.locked_by == instance)
    note = f"taken back when worker {name} restarted: its previous run stopped holding it"
    # A job that killed its worker every time would otherwise do so for ever.
    poison = update(Job).where(*held, Job.attempts >= MAX_ATTEMPTS, Job.kind.not_in(periodic))
    dead = session.execute(
        poison.values(status=JobStatus.DEAD, locked_by=None, finished_at=now, last_error=note)
    )
    back = session.execute(
        update(Job)
        .where(*held)
        .values(status=JobStatus.PENDING, run_at=now, locked_by=None, last_error=note)
    )
    taken = _rowcount(dead) + _rowcount(back)
    if taken:
        log.warning("worker %s took back %d job(s) its previous run held", name, taken)
    return taken


def renew(
    database: Database, instance: str, slot: str | None, job_ids: Collection[int] = ()
) -> tuple[int, bool]:
    """One heartbeat for the slot and the held jobs: (how many jobs are still ours, slot ours)."""
    now = utcnow()
    jobs_kept, slot_kept = 0, True
    with database.write() as session:
        if job_ids:
            held = update(Job).where(
                Job.id.in_(list(job_ids)),
                Job.locked_by == instance,
                Job.status == JobStatus.RUNNING,
            )
            jobs_kept = _rowcount(session.execute(held.values(locked_at=now)))
        if slot is not None:
            ours = update(WorkerSlot).where(
                WorkerSlot.name == slot, WorkerSlot.instance == instance
            )
            slot_kept = _rowcount(session.execute(ours.values(heartbeat_at=now))) == 1
    return jobs_kept, slot_kept


def release_slot(database: Database, name: str, instance: str) -> None:
    """A clean stop: the next life needs no check and finds nothing to take back."""
    with database.write() as session:
        session.execute(
            update(WorkerSlot)
            .where(WorkerSlot.name == name, WorkerSlot.instance == instance)
            .values(stopped_at=utcnow())
        )


@contextmanager
def kept_lease(
    database: Database,
    job_ids: Collection[int],
    instance: str,
    slot: str | None,
    lease: timedelta = LEASE,
) -> Iterator[None]:
    """While the block runs, a thread renews the jobs' leases every third of a lease."""
    done = threading.Event()
    first = min(job_ids)

    def beat() -> None:
        held = len(job_ids)
        while not done.wait(lease.total_seconds() / 3):
            try:
                kept, _slot_kept = renew(database, instance, slot, job_ids)
            except Exception as error:  # the database away for a moment: try again next beat
                log.warning("job %s: heartbeat failed: %s", first, type(error).__name__)
                continue
            if kept < held:  # a lease ran out unrenewed; whoever has the job now finishes it
                log.warning("job %s: %d lease(s) lost while the handler ran", first, held - kept)
                held = kept
            if not kept:
                return

    thread = threading.Thread(target=beat, name=f"lease-{first}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
