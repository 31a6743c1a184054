"""Waking an idle worker: PostgreSQL LISTEN/NOTIFY, else a timed wait (SQLite, a lost listener).

`enqueue` sends a NOTIFY on CHANNEL in the caller's transaction; PostgreSQL delivers it
at commit, to every session listening, and drops it on rollback, so a worker is never
woken for a job that does not exist. Notifications with the same payload sent in one
transaction are folded into one, so a change that enqueues ten jobs wakes each worker
once. Each worker listens on a connection of its own, outside the engine's pool: a
pooled connection would be reset, and its LISTEN lost, whenever it was handed back.

A notification is only a hint. A listener that loses its connection (a PostgreSQL
restart, a network cut) misses whatever was sent meanwhile, so the wait falls back to
the timed poll, reconnects at most every RECONNECT_SECONDS, and after reconnecting
reports a wake-up: the worker looks for work once instead of trusting the silence.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import time
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "portal_jobs"
RECONNECT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 3
# A dead peer that never sent a FIN (a cable, a firewall) is noticed within about a minute.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}


def listener_conninfo(url: str) -> str:
    """libpq's spelling of the SQLAlchemy URL (the `+psycopg` driver suffix dropped)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Wakeup:
    """`wait(seconds)` ends early at a job notification or at `interrupt()` (a stop)."""

    def __init__(self, url: str | None, reconnect_seconds: float = RECONNECT_SECONDS) -> None:
        """`url`: the PostgreSQL database to listen on; None for a plain timed wait."""
        self._conninfo = listener_conninfo(url) if url else None
        self._reconnect_seconds = reconnect_seconds
        self._connection: Any = None  # psycopg.Connection while listening
        self._next_attempt = 0.0
        self._lost_since: float | None = None
        self._interrupted, self._interrupter = socket.socketpair()
        self._interrupter.setblocking(False)

    @property
    def listening(self) -> bool:
        return self._connection is not None

    def wait(self, seconds: float) -> bool:
        """True when a notification came (or the listener just reconnected), else False."""
        if self._listen():
            return True
        readers: list[Any] = [self._interrupted]
        if self._connection is not None:
            readers.append(self._connection)
        ready, _, _ = select.select(readers, [], [], max(seconds, 0.0))
        if self._interrupted in ready:
            with contextlib.suppress(BlockingIOError):
                self._interrupted.recv(64)
            return False
        return self._connection is not None and self._connection in ready and self._drain()

    def interrupt(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._interrupter.send(b"\0")

    def close(self) -> None:
        self._disconnect()
        self._interrupted.close()
        self._interrupter.close()

    def _listen(self) -> bool:
        """Connect and LISTEN if due; True when a new listener started after a loss."""
        if self._conninfo is None or self._connection is not None:
            return False
        if time.monotonic() < self._next_attempt:
            return False
        self._next_attempt = time.monotonic() + self._reconnect_seconds
        import psycopg

        try:
            conninfo = psycopg.conninfo.make_conninfo(
                self._conninfo, connect_timeout=CONNECT_TIMEOUT_SECONDS, **KEEPALIVE
            )
            connection = psycopg.connect(conninfo, autocommit=True)
            connection.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as error:
            self._lose(error)
            return False
        self._connection = connection
        if self._lost_since is None:
            return False
        log.info(
            "job notifications again after %.0f s of polling", time.monotonic() - self._lost_since
        )
        self._lost_since = None
        return True

    def _drain(self) -> bool:
        import psycopg

        try:
            for _notification in self._connection.notifies(timeout=0):
                pass
        except psycopg.Error as error:
            self._lose(error)
        return True  # either a job, or a lost connection: look for work once either way

    def _lose(self, error: Exception) -> None:
        self._disconnect()
        if self._lost_since is None:
            self._lost_since = time.monotonic()
            log.warning(
                "job notifications unavailable (%s): polling, listening again when possible",
                type(error).__name__,
            )

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
