"""SQL statements per tracking view and per customer order list, counted on the engine.

Counted with a `before_cursor_execute` listener, after one warm-up call so that
a first connection's set-up is not counted. On SQLite the backend issues its own
BEGIN (it picks the lock mode), which the listener sees. On PostgreSQL, psycopg's
implicit BEGIN, the session's closing ROLLBACK and the pool's pre-ping are driver
calls the listener cannot see, so there the wire is read too (libpq's trace), and
every message that waits for the server is counted as a round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event

from backend.db import Database
from backend.orders.access import resolve_short_link
from backend.orders.queries import list_customer_orders
from backend.tracking_page import get_tracking_view
from bench import (
    Backend,
    get_demo_order,
    issue_code,
    list_backends,
    row,
    scratch_directory,
    seed_demo,
)

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass(frozen=True)
class Count:
    queries: int
    statements: int
    round_trips: int | None

    def describe(self) -> str:
        text = f"{_plural(self.queries, 'query', 'queries')}, "
        text += f"{_plural(self.statements, 'statement', 'statements')} in all"
        if self.round_trips is not None:
            text += f", {self.round_trips} round trips to the server"
        return text


def record_statements(database: Database, call: Callable[[], object]) -> list[str]:
    """Every statement `call` sends through the engine, in order."""
    statements: list[str] = []

    def listener(*args: Any) -> None:
        statements.append(" ".join(str(args[2]).split()))

    event.listen(database.engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(database.engine, "before_cursor_execute", listener)
    return statements


def trace_round_trips(database: Database, call: Callable[[], object], trace: Path) -> list[str]:
    """What psycopg sends that waits for an answer: simple queries and extended-protocol syncs."""
    if database.engine.pool.checkedin() != 1:  # type: ignore[attr-defined]
        raise RuntimeError("the trace needs the pool to hold exactly one idle connection")
    pooled = database.engine.raw_connection()
    pgconn = pooled.driver_connection.pgconn  # type: ignore[union-attr]
    pooled.close()
    with trace.open("w") as sink:
        pgconn.trace(sink.fileno())
        try:
            call()
        finally:
            pgconn.untrace()
    trips: list[str] = []
    pending = ""
    for line in trace.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) < 4 or fields[1] != "F":
            continue
        text = fields[4].strip().split('" "')[-1].strip('"') if len(fields) > 4 else ""
        if fields[3] == "Query":
            trips.append("; (the pool's pre-ping)" if text in ("", ";") else text)
        elif fields[3] == "Parse":
            pending = text
        elif fields[3] == "Sync":
            trips.append(pending or "(sync)")
            pending = ""
    return trips


def _is_query(statement: str) -> bool:
    return not statement.upper().startswith(TRANSACTION_CONTROL)


def _plural(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _show(items: list[str], indent: str = "      - ") -> None:
    for item in items:
        print(f"{indent}{item[:100]}{'...' if len(item) > 100 else ''}")


def count(database: Database, name: str, call: Callable[[], object], trace: Path | None) -> Count:
    """Statements (and, given a trace file, round trips), printed one by one."""
    call()
    statements = record_statements(database, call)
    trips = trace_round_trips(database, call, trace) if trace else None
    result = Count(
        sum(_is_query(s) for s in statements), len(statements), len(trips) if trips else None
    )
    print(f"    {name}: {result.describe()}")
    _show(statements)
    if trips:
        print("      on the wire:")
        _show(trips, "        > ")
    return result


def _summary(backend: Backend, case: str, result: Count) -> str:
    context = f"{_plural(result.statements, 'statement', 'statements')} seen by the engine"
    if result.round_trips is not None:
        context += f", {result.round_trips} round trips on the wire"
    return row("query count", f"{backend.label}, {case}", result.describe().split(",")[0], context)


def measure_backend(backend: Backend, directory: Path) -> list[str]:
    database = seed_demo(backend)
    trace = None if backend.is_sqlite else directory / "libpq.trace"
    try:
        order = get_demo_order(database)
        # The session a customer gets from an SMS code; both reads check it as they run.
        customer = resolve_short_link(database, issue_code(database, order)).session
        print(f"\n  {backend.label}: order {order.public_no} ({order.events} events)")
        view = count(
            database,
            "get_tracking_view",
            lambda: get_tracking_view(database, order.public_no, customer),
            trace,
        )
        orders = count(
            database,
            "list_customer_orders",
            lambda: list_customer_orders(database, customer),
            trace,
        )
    finally:
        database.dispose()
    return [
        _summary(backend, "tracking view", view),
        _summary(backend, "customer order list", orders),
    ]


def run() -> list[str]:
    print("== SQL statements per read model ==")
    summary: list[str] = []
    with scratch_directory() as directory:
        for backend in list_backends(directory):
            summary += measure_backend(backend, directory)
    return summary


if __name__ == "__main__":
    print("\n".join(run()))
