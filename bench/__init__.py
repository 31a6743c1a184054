"""Benchmarks that print figures from one run on this machine; they never assert speed.

`make bench` (`python -m bench`) runs every benchmark module and ends with a summary
table for the README. Each benchmark seeds its own throw-away demo database: a
temporary SQLite file (deleted afterwards), and PostgreSQL as well when
PORTAL_BENCH_DATABASE_URL is set. Its public schema is dropped and recreated, so
give it a database that holds nothing else:

    psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE portal_bench"
    PORTAL_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/portal_bench make bench

Without it, `make bench` makes a fresh database portal_bench_<pid> itself when a PostgreSQL
answers on 127.0.0.1, and drops it afterwards. Some benchmarks (the peak) run on PostgreSQL
only and say so when it is not given.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.demo import seed_orders
from backend.logistics.models import Shipment, TrackingEvent
from backend.migrate import upgrade
from backend.orders.access import issue_short_link
from backend.orders.intake import IntakeRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, OrderLine

POSTGRES_URL_VARIABLE = "PORTAL_BENCH_DATABASE_URL"
BENCH_ACTOR = Actor(ActorKind.SYSTEM, "bench", channel="bench")
# New each run; the served process is handed it through PORTAL_SECRET_KEYS.
BENCH_SECRET = secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Backend:
    label: str
    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


@dataclass(frozen=True)
class DemoOrder:
    """The order the benchmarks open: shipped, moving, with the most tracking events."""

    order_id: int
    public_no: str
    customer_id: int
    events: int
    lines: int


def row(*cells: object) -> str:
    """One Markdown table row of the summary."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


@contextmanager
def scratch_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as name:
        yield Path(name)


def list_backends(directory: Path) -> list[Backend]:
    backends = [Backend("SQLite", f"sqlite:///{directory / 'bench.db'}")]
    postgres_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if postgres_url:
        backends.append(Backend("PostgreSQL", postgres_url))
    return backends


def _reset_postgres(url: str) -> None:
    database = Database(url)
    try:
        with database.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        database.dispose()


def seed_demo(backend: Backend) -> Database:
    """A migrated database holding the demo orders, on a clean slate."""
    if not backend.is_sqlite:
        _reset_postgres(backend.url)
    upgrade(backend.url)
    database = Database(backend.url)
    seed_orders(database, rules=IntakeRules())
    return database


def get_demo_order(database: Database) -> DemoOrder:
    events = func.count(TrackingEvent.id.distinct())
    with database.read() as session:
        head = session.execute(
            select(Order.id, Order.public_no, Order.customer_id, events.label("events"))
            .join(Shipment, Shipment.order_id == Order.id)
            .join(TrackingEvent, TrackingEvent.shipment_id == Shipment.id)
            .where(Order.status == OrderStatus.SHIPPED)
            .group_by(Order.id, Order.public_no, Order.customer_id)
            .order_by(events.desc(), Order.id)
            .limit(1)
        ).one()
        lines = session.scalar(select(func.count()).where(OrderLine.order_id == head.id))
    return DemoOrder(head.id, head.public_no, head.customer_id, head.events, lines or 0)


def issue_code(database: Database, order: DemoOrder) -> str:
    """An SMS short code (/t/<code>) for the order: how a customer gets a session."""
    return issue_short_link(database, order.order_id, BENCH_ACTOR, timedelta(days=1))
