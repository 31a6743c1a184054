"""Breaker transitions kept in the database, one row per provider and process, for staff.

A breaker lives in one process's memory; with several web and worker processes no single
one knows the whole picture. Each process writes its own row on every transition (the
Breaker's `on_change`), and the integration health page reads them all. The table lives
here rather than in a domain's models.py: breakers belong to every adapter and no domain.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.breaker import BreakerChange, BreakerState
from backend.clock import utcnow
from backend.db import Base, Database, EnumText, lock_wait_until

log = logging.getLogger(__name__)

# A write waits this long at most for SQLite's lock: the transition is news, not a ledger.
WRITE_WAIT_SECONDS = 5.0


class BreakerStateRow(Base):
    __tablename__ = "breaker_states"
    __table_args__ = (
        UniqueConstraint("provider", "process"),
        Index("ix_breaker_states_changed_at", "changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(60))  # the breaker's name: "sf", "wechat:wx1"
    process: Mapped[str] = mapped_column(String(120))  # "host:pid"
    state: Mapped[BreakerState] = mapped_column(EnumText(BreakerState, 10))
    failures: Mapped[int] = mapped_column(default=0)
    # When the circuit left "closed" (kept through half-open trials), or when it closed.
    since: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


def process_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


@dataclass(frozen=True)
class StateWrite:
    change: BreakerChange
    process: str
    at: datetime


def write_state(database: Database, write: StateWrite) -> None:
    """Upsert this process's row for the breaker; two writers racing: the second updates."""
    for attempt in range(2):
        try:
            with lock_wait_until(time.monotonic() + WRITE_WAIT_SECONDS), database.write() as s:
                _upsert(s, write)
            return
        except IntegrityError:
            if attempt:
                raise


def _upsert(session: Session, write: StateWrite) -> None:
    change = write.change
    row = session.scalar(
        select(BreakerStateRow)
        .where(BreakerStateRow.provider == change.name, BreakerStateRow.process == write.process)
        .with_for_update()
    )
    if row is None:
        row = BreakerStateRow(provider=change.name[:60], process=write.process, since=write.at)
        session.add(row)
    elif row.state == BreakerState.CLOSED or change.state == BreakerState.CLOSED:
        row.since = write.at  # an outage begins, or ends; half-open <-> open keeps its start
    row.state, row.failures, row.changed_at = change.state, change.failures, write.at


class BreakerStateRecorder:
    """The `on_change` the portal gives its breakers: hands each change to a writer thread.

    A transition happens inside an outbound call, sometimes inside the caller's own write
    transaction (the WeChat token refresh holds its row while it fetches); writing there
    would wait on that very transaction under SQLite. So the call only queues.
    """

    def __init__(self, database: Database, process: str | None = None) -> None:
        self._database = database
        self.process = process or process_label()
        self._queue: queue.Queue[StateWrite | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def __call__(self, change: BreakerChange) -> None:
        self._queue.put(StateWrite(change, self.process, utcnow()))
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="breaker-states", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            write = self._queue.get()
            try:
                if write is None:
                    return
                write_state(self._database, write)
            except Exception:  # the page shows less; the provider calls go on regardless
                log.exception("could not record breaker %s", write and write.change.name)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every change handed over so far is written (tests, shutdown)."""
        if self._thread is not None:
            self._queue.join()

    def close(self, timeout: float = 5.0) -> None:
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)
