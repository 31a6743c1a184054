"""Declarative base, engine construction and the read/write session boundaries."""

from __future__ import annotations

import math
import select
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# How long a connection waits for SQLite's write lock (busy timeout). Workers and scripts
# may wait this long; web requests wait only until their own deadline (`lock_wait_until`).
LOCK_WAIT_SECONDS = 30.0
MIN_LOCK_WAIT_SECONDS = 0.25
# PostgreSQL: an unreachable server, or a pool with no free connection, is given up on
# quickly, so that a request answers 503 instead of hanging.
CONNECT_TIMEOUT_SECONDS = 3
POOL_TIMEOUT_SECONDS = 5.0
_LOCK_WAIT_INFO = "portal_busy_timeout_ms"
# sqlite_begin for a read of one statement: no BEGIN, so none to roll back either.
NO_BEGIN = "NONE"
_lock_deadline: ContextVar[float | None] = ContextVar("sqlite_lock_deadline", default=None)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite drops the offset, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; times are stored in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E], Generic[E]):
    """A StrEnum stored as its value in a plain VARCHAR, and loaded back as the member.

    A bare String column hands back `str`, which compares equal to the member but is not
    it: `is` checks, `match` on the class and `type()` all fail after a reload. Writing a
    value outside the enum fails at flush, not later on a page.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def normalize_url(url: str) -> str:
    """psycopg 3 is the driver; accept the plain postgresql:// spelling people paste."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_database_engine(url: str, **options: Any) -> Engine:
    url = normalize_url(url)
    # Errors quote their statement; without this they would quote its values too (phones,
    # streets, codes), and error texts end up in logs and on job rows.
    options.setdefault("hide_parameters", True)
    options.setdefault("connect_args", {})
    if not is_sqlite(url):
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 20)
        options.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
        options["connect_args"].setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        engine = create_engine(url, **options)
        if not options.get("pool_pre_ping"):
            event.listen(engine, "checkout", _replace_if_closed)
        return engine
    # The driver's own transaction handling is switched off so that the BEGIN
    # statement, and with it the lock mode, is ours to choose.
    options["connect_args"].setdefault("check_same_thread", False)
    options["connect_args"].setdefault("timeout", LOCK_WAIT_SECONDS)
    engine = create_engine(url, **options)
    default_wait_ms = int(LOCK_WAIT_SECONDS * 1000)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={default_wait_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        record.info[_LOCK_WAIT_INFO] = default_wait_ms

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Writers take the lock up front: a deferred transaction that later
        # upgrades to a writer fails with "database is locked" instead of waiting.
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == NO_BEGIN:
            return
        if mode == "IMMEDIATE":
            _set_lock_wait(connection, _lock_wait_ms(default_wait_ms))
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _replace_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A connection dropped by a restart or an outage is noticed at checkout and replaced,
    so the service recovers without a restart of its own, at no round trip per checkout.

    A pooled connection is idle: the server has nothing to say on it unless it is closing
    it (a restart, pg_terminate_backend, an outage that cut the socket), so a readable
    socket means closed. pool_pre_ping asks the server instead: one more round trip per
    checkout, during which an inline read holds the event loop (a cached tracking page
    needs one round trip in all; README, Performance). A connection that dies silently
    (no FIN: a lost network) still fails its query, which invalidates the pool
    (`is_unavailable`: a 503, then fresh connections).
    """
    pgconn = dbapi_connection.pgconn
    if pgconn.status != 0 or _is_readable(pgconn.socket):  # 0: libpq's CONNECTION_OK
        # Every connection opened before this one went through the same restart.
        raise sa_exc.InvalidatePoolError("the server closed a pooled connection")


def _is_readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _lock_wait_ms(default_ms: int) -> int:
    """The busy timeout for a write beginning now: the long default, or what is left of
    the request's time (rounded up to 250 ms, so that most writes need no new PRAGMA)."""
    deadline = _lock_deadline.get()
    if deadline is None:
        return default_ms
    seconds = max(deadline - time.monotonic(), MIN_LOCK_WAIT_SECONDS)
    return math.ceil(seconds * 4) * 250


def _set_lock_wait(connection: Any, wait_ms: int) -> None:
    # Pooled connections serve both the worker (long wait) and web requests (until their
    # deadline); reads in WAL mode never wait for a writer, so only writes set it.
    if connection.info.get(_LOCK_WAIT_INFO) != wait_ms:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
        connection.info[_LOCK_WAIT_INFO] = wait_ms


# SQLite result codes (primary, the low byte of the extended code): busy and locked
# mean another connection holds the lock; cantopen, that the file cannot be reached.
_SQLITE_LOCKED = frozenset({5, 6})
_SQLITE_UNAVAILABLE = _SQLITE_LOCKED | {14}
# PostgreSQL SQLSTATEs: class 08 is "connection exception"; 57P01-57P03 are a server
# shutting down or starting up; 53300 is too_many_connections.
_POSTGRES_UNAVAILABLE = ("08", "57P01", "57P02", "57P03", "53300")


def is_unavailable(error: BaseException) -> bool:
    """The database could not be reached or locked in time: an outage, not a wrong statement."""
    if isinstance(error, sa_exc.TimeoutError):
        return True  # no pooled connection came free in time
    if not isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    if isinstance(original, sqlite3.Error):
        return _sqlite_code(error) in _SQLITE_UNAVAILABLE
    state = getattr(original, "sqlstate", None)
    if state is None:
        # psycopg raises these without a SQLSTATE when the client side fails: refused,
        # reset or timed-out connections, a connection that is already closed.
        return original is not None and type(original).__module__.startswith("psycopg")
    return str(state).startswith(_POSTGRES_UNAVAILABLE)


def _sqlite_code(error: BaseException) -> int:
    original = getattr(error, "orig", None)
    return int(getattr(original, "sqlite_errorcode", 0)) & 0xFF


@contextmanager
def lock_wait_until(deadline: float) -> Iterator[None]:
    """SQLite writes begun inside wait for the lock until `deadline` (time.monotonic()).

    A web request must answer (503) instead of hanging while another process, a backup
    or a `sqlite3` shell, holds the write lock; the worker keeps the long wait. No effect
    on PostgreSQL.
    """
    token = _lock_deadline.set(deadline)
    try:
        yield
    finally:
        _lock_deadline.reset(token)


class BuiltOnceCache:
    """SQLAlchemy's compiled cache for statements built once, at import.

    The engine's own cache finds a compiled statement by hashing its cache key, a nested
    tuple as large as the statement: about 37 µs for the tracking page's head query (3,218
    elements), a tenth of a whole cached page. A statement built once hands the same key
    object to every execution, so here it is found by that object's identity (and the
    dialect's), both kept alive by the entry so that neither identity is reused. Pass it as
    `compiled_cache` to `execute()`; statements built per call do not belong here.
    """

    # Entries are per statement and per engine (dialect); tests make many engines.
    MAX_ENTRIES = 256

    def __init__(self) -> None:
        self._compiled: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _slot(key: tuple[Any, ...]) -> tuple[Any, ...]:
        dialect, statement_key, *rest = key
        return (id(statement_key), id(dialect), *rest)

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        entry = self._compiled.get(self._slot(key))
        if entry is None or entry[0] is not key[1] or entry[1] is not key[0]:
            return default
        return entry[2]

    def __setitem__(self, key: tuple[Any, ...], compiled: Any) -> None:
        with self._lock:
            while len(self._compiled) >= self.MAX_ENTRIES:
                del self._compiled[next(iter(self._compiled))]
            self._compiled[self._slot(key)] = (key[1], key[0], compiled)

    def __len__(self) -> int:
        return len(self._compiled)


# connection.execute(statement, parameters, execution_options=BUILT_ONCE_OPTIONS)
BUILT_ONCE_OPTIONS = {"compiled_cache": BuiltOnceCache()}


class Health(StrEnum):
    OK = "ok"
    UNREACHABLE = "unreachable"  # no connection, or it failed
    NOT_WRITABLE = "not_writable"  # reachable, but a write could not start in time


class Database:
    """One engine, two doors: `read()` for pages, `write()` for one unit of work."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = normalize_url(url)
        self.engine = create_database_engine(self.url, **engine_options)
        self.is_sqlite = is_sqlite(self.url)
        write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(write_engine, expire_on_commit=False)
        # One SELECT needs no transaction around it. On PostgreSQL that saves the BEGIN
        # and ROLLBACK round trips (under READ COMMITTED each statement has a snapshot of
        # its own anyway); on SQLite, two statements through the engine.
        self._statement_engine = (
            self.engine.execution_options(sqlite_begin=NO_BEGIN)
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def read_statement(self) -> Iterator[Connection]:
        """A Core connection for one read-only statement, run outside a transaction."""
        with self._statement_engine.connect() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._write_sessions() as session, session.begin():
            yield session

    def check_health(self, lock_wait_seconds: float) -> Health:
        """Can a write start now? Takes the write lock (SQLite) and lets go at once."""
        engine = self.engine
        if self.is_sqlite:
            engine = engine.execution_options(sqlite_begin="IMMEDIATE")
        with lock_wait_until(time.monotonic() + lock_wait_seconds):
            try:
                connection = engine.connect()
            except sa_exc.SQLAlchemyError:
                return Health.UNREACHABLE
            try:
                with connection:  # closing rolls back: nothing is ever written
                    read_only = self._is_read_only(connection)
            except sa_exc.SQLAlchemyError as error:
                locked = _sqlite_code(error) in _SQLITE_LOCKED
                return Health.NOT_WRITABLE if locked else Health.UNREACHABLE
        return Health.NOT_WRITABLE if read_only else Health.OK

    def _is_read_only(self, connection: Connection) -> bool:
        if self.is_sqlite:
            connection.exec_driver_sql("SELECT 1")  # its BEGIN IMMEDIATE took the write lock
            return False
        # A standby, or a server or role set to read-only transactions.
        setting = connection.exec_driver_sql("SELECT current_setting('transaction_read_only')")
        return setting.scalar() == "on"

    def dispose(self) -> None:
        self.engine.dispose()
