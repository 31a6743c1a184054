"""Enqueuing work, and what a handler may raise to say "later" or "never"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from backend.clock import utcnow
from backend.db import BUILT_ONCE_OPTIONS, Database
from backend.jobs.models import Job
from backend.jobs.wakeup import CHANNEL
from backend.request_context import current_request_id

MAX_ATTEMPTS = 8


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


@dataclass(frozen=True)
class Batched:
    """A handler that takes every claimed job of its kind at once (up to the worker's batch).

    `run` gets the payloads in claim order and returns one outcome per payload, in the same
    order: None for done, or the exception that job would have raised alone (RetryLater,
    GiveUp or any other), so each job is retried, delayed or given up on by itself. An
    exception escaping `run` is every job's outcome.
    """

    run: Callable[[Database, list[dict[str, Any]]], list[BaseException | None]]


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    run_at: datetime | None = None,
) -> None:
    """Add a job inside the caller's transaction; a known key is silently kept as it is.

    One statement that ignores a duplicate key, not a check and then an insert: a twin
    enqueuing the same key at the same moment (four workers arming the periodic jobs at
    start) would pass the check too, and its insert would then abort the caller's whole
    transaction with a unique violation. Here the second insert waits for the first
    transaction and, if that commits, adds nothing.

    On PostgreSQL the same statement wakes the listening workers (backend/jobs/wakeup.py)
    when a row went in: the NOTIFY is part of the caller's transaction, delivered at its
    commit and dropped with its rollback, and costs no extra round trip.
    """
    statement = _INSERT[session.get_bind().dialect.name == "sqlite"]
    values = {
        "kind": kind,
        "payload": payload or {},
        "key": key,
        "run_at": run_at or utcnow(),
        "request_id": current_request_id(),
    }
    session.execute(statement, values, execution_options=BUILT_ONCE_OPTIONS)


def _insert(is_sqlite: bool) -> Executable:
    table = Job.__table__
    dialect = sqlite if is_sqlite else postgresql
    columns = ("kind", "payload", "key", "run_at", "request_id")
    insert = dialect.insert(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in columns}
    )
    insert = insert.on_conflict_do_nothing(index_elements=["key"])
    if is_sqlite:
        return cast(Executable, insert)
    inserted = insert.returning(table.c.id).cte("inserted")
    return select(func.pg_notify(CHANNEL, "")).select_from(inserted)


# Built once, on the table rather than the mapped class: a Core insert skips the ORM's bulk
# path, and building it per call (its values in it) cost more than running it, on every
# webhook acknowledgement (bench/channel_intake.py).
_INSERT = {is_sqlite: _insert(is_sqlite) for is_sqlite in (True, False)}


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s ... capped at one hour."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))
