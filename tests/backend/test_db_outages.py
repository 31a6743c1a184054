"""Which database errors are an outage (503) and which are a bug (500), raised by real drivers."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import event, text

from backend.db import Database, Health, is_unavailable, lock_wait_until
from tests.conftest import POSTGRES_URL

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="PORTAL_TEST_DATABASE_URL is not set")


def raised(call: Callable[[], object]) -> Exception:
    try:
        call()
    except Exception as error:
        return error
    raise AssertionError("nothing was raised")


def run(database: Database, statement: str) -> None:
    with database.write() as session:
        session.execute(text(statement))


@contextmanager
def write_lock_held(path: Path) -> Iterator[sqlite3.Connection]:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield holder
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def sqlite_database(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Path, Database]]:
    path = tmp_path / "portal.db"
    path.write_bytes(sqlite_template.read_bytes())
    database = Database(f"sqlite:///{path}")
    run(database, "SELECT 1")  # WAL on, as on any database that has served
    yield path, database
    database.dispose()


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # bound, never listening: connections are refused


def test_a_sqlite_lock_held_elsewhere_is_an_outage(sqlite_database):
    path, database = sqlite_database
    with write_lock_held(path), lock_wait_until(time.monotonic() + 0.1):
        error = raised(lambda: run(database, "SELECT 1"))
    assert is_unavailable(error)


def test_a_sqlite_file_that_cannot_be_opened_is_an_outage(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/missing/dir/portal.db")
    assert is_unavailable(raised(lambda: run(database, "SELECT 1")))
    assert database.check_health(0.1) is Health.UNREACHABLE
    database.dispose()


def test_a_missing_table_on_sqlite_is_a_bug_not_an_outage(sqlite_database):
    _path, database = sqlite_database
    assert not is_unavailable(raised(lambda: run(database, "SELECT * FROM no_such_table")))


def test_a_constraint_violation_is_a_bug_not_an_outage(database):
    statement = "INSERT INTO lookup_attempts (order_key) VALUES (NULL)"
    assert not is_unavailable(raised(lambda: run(database, statement)))


def test_requests_give_up_on_the_sqlite_lock_while_the_worker_waits_for_it(sqlite_database):
    path, database = sqlite_database
    outcome: dict[str, object] = {}

    def worker_write() -> None:
        run(
            database,
            "INSERT INTO lookup_attempts (order_key, ip, succeeded, at) "
            "VALUES ('worker', 'x', 0, '2026-01-01 00:00:00')",
        )
        outcome["worker"] = "stored"

    with write_lock_held(path) as holder:
        with lock_wait_until(time.monotonic() + 0.3):
            request_error = raised(lambda: run(database, "SELECT 1"))
        worker = threading.Thread(target=worker_write)
        worker.start()
        assert database.check_health(0.1) is Health.NOT_WRITABLE
        holder.execute("ROLLBACK")
    worker.join(timeout=60)
    assert is_unavailable(request_error)
    assert outcome == {"worker": "stored"}
    assert database.check_health(0.1) is Health.OK


@needs_postgres
def test_a_postgresql_server_refusing_connections_is_an_outage():
    database = Database(f"postgresql://postgres@127.0.0.1:{refused_port()}/portal")
    assert is_unavailable(raised(lambda: run(database, "SELECT 1")))
    assert database.check_health(0.1) is Health.UNREACHABLE
    database.dispose()


@needs_postgres
def test_a_postgresql_connection_cut_mid_session_is_an_outage(postgres_migrated):
    database = Database(postgres_migrated)
    with database.engine.connect() as connection:
        own_pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with database.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(own_pid)})")
            other.commit()
        error = raised(lambda: connection.exec_driver_sql("SELECT 1"))
    assert is_unavailable(error)
    assert database.check_health(1.0) is Health.OK  # the pool replaced the dead connection
    database.dispose()


@needs_postgres
def test_no_free_pooled_connection_in_time_is_an_outage(postgres_migrated):
    database = Database(postgres_migrated, pool_size=1, max_overflow=0, pool_timeout=0.2)
    with database.engine.connect() as held:
        held.exec_driver_sql("SELECT 1")
        assert is_unavailable(raised(lambda: run(database, "SELECT 1")))
    database.dispose()


@needs_postgres
def test_a_syntax_error_on_postgresql_is_a_bug_not_an_outage(postgres_migrated):
    database = Database(postgres_migrated)
    assert not is_unavailable(raised(lambda: run(database, "SELEC 1")))
    database.dispose()


@needs_postgres
def test_a_read_only_postgresql_is_reported_not_writable(postgres_migrated):
    read_only = {"options": "-c default_transaction_read_only=on"}
    database = Database(postgres_migrated, connect_args=read_only)
    assert database.check_health(1.0) is Health.NOT_WRITABLE
    database.dispose()
    writable = Database(postgres_migrated)
    assert writable.check_health(1.0) is Health.OK
    writable.dispose()


def busy_timeout_ms(database: Database) -> int:
    with database.write() as session:
        return int(session.execute(text("PRAGMA busy_timeout")).scalar_one())


def test_one_pooled_sqlite_connection_switches_between_the_long_and_the_short_wait(
    sqlite_database,
):
    _path, database = sqlite_database
    assert busy_timeout_ms(database) == 30_000
    with lock_wait_until(time.monotonic() + 2.0):
        assert 1_000 < busy_timeout_ms(database) <= 2_000
    with lock_wait_until(time.monotonic() - 5.0):  # past: still a short try, never zero
        assert busy_timeout_ms(database) == 250
    assert busy_timeout_ms(database) == 30_000
    assert database.engine.pool.checkedin() == 1  # the same connection each time


def backend_pids(database: Database) -> set[int]:
    """The server processes behind every connection the pool holds idle."""
    pool = database.engine.pool
    connections = [database.engine.raw_connection() for _ in range(pool.checkedin())]  # type: ignore[attr-defined]
    pids = {connection.driver_connection.info.backend_pid for connection in connections}
    for connection in connections:
        connection.close()
    return pids


@needs_postgres
def test_pooled_connections_the_server_ended_are_replaced_at_checkout_without_an_error(
    postgres_migrated,
):
    database = Database(postgres_migrated, pool_size=2, max_overflow=0)
    held = [database.engine.connect() for _ in range(2)]  # two pooled connections, both used
    for connection in held:
        connection.exec_driver_sql("SELECT 1")
        connection.close()
    ended = backend_pids(database)
    assert len(ended) == 2
    killer = Database(postgres_migrated)
    with killer.engine.connect() as connection:
        for pid in ended:
            connection.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    killer.dispose()
    time.sleep(0.2)  # the server's goodbye reaches the idle sockets
    with database.read_statement() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    with database.write() as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar() not in ended
    assert not backend_pids(database) & ended
    database.dispose()


def test_a_one_statement_read_on_sqlite_sends_no_begin(sqlite_database):
    _path, database = sqlite_database
    seen: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    with database.read_statement() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    with database.read() as session:
        session.execute(text("SELECT 2"))
    assert seen == ["SELECT 1", "BEGIN DEFERRED", "SELECT 2"]


@needs_postgres
def test_a_one_statement_read_on_postgresql_runs_outside_a_transaction(postgres_migrated):
    database = Database(postgres_migrated)
    with database.read_statement() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        status = connection.connection.driver_connection.info.transaction_status  # type: ignore[union-attr]
    assert status == TransactionStatus.IDLE  # no BEGIN was sent, so none is open
    with database.write() as session:  # the same pooled connection, in a transaction again
        session.execute(text("SELECT 1"))
        driver = session.connection().connection.driver_connection
        assert driver.info.transaction_status == TransactionStatus.INTRANS  # type: ignore[union-attr]
    database.dispose()
