"""Draining a backlog of channel deliveries with 1 or more worker processes, batched or not.

Part of bench/channel_intake.py. A backlog of signed Shopify deliveries is stored the way the
webhook stores it (`receive_shopify`, in this process: the HTTP side is measured by wrk
apart), then N worker processes (multiprocessing, spawned: each its own interpreter, engine
and GIL, as `portal worker` processes are) built like `portal worker` (load_settings,
build_handlers, Worker) start together and run until nothing is due. Each counts the
statements its engine sends (a `before_cursor_execute` event) and its own CPU time; the
figures are per order actually ingested (new 'created' channel_events); on PostgreSQL the
CPU of the server processes behind each worker's connections (named by application_name,
read from /proc: the server is local) is added apart, other clients of the same server
left out. Process start-up is not timed: the workers wait on one event, set when all are
ready.

The baseline is the same worker with batches of one job: one claim, one ingest and one
finish transaction per delivery, the way the worker ran before batching.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select, text

from backend.db import Database
from backend.jobs.models import Job, JobStatus
from backend.orders.channel_webhooks import INGEST, receive_shopify
from backend.orders.models import ChannelEvent, IntakeOutcome, SalesChannel
from backend.orders.shops import ShopConfig
from bench.wrk import process_cpu_seconds


@dataclass(frozen=True)
class WorkerRun:
    jobs: int
    statements: int
    cpu_seconds: float
    finished: float  # time.perf_counter() (CLOCK_MONOTONIC, shared by the processes)
    postgres_cpu_seconds: float | None  # the server backends of this worker's connections


@dataclass(frozen=True)
class DrainRun:
    label: str
    workers: int
    batch: int
    orders: int  # created channel_events
    jobs: int
    seconds: float
    cpu_seconds: float  # the worker processes
    statements: int
    postgres_cpu_seconds: float | None
    left: int  # ingest jobs not done

    @property
    def rate(self) -> float:
        return self.orders / max(self.seconds, 1e-9)

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1000 / max(self.orders, 1)

    @property
    def statements_per_order(self) -> float:
        return self.statements / max(self.orders, 1)


def store_backlog(database: Database, deliveries: list[Any], secret: str) -> None:
    """As the webhook does once a signature checks out: one job row per delivery."""
    shop = ShopConfig("shopify", SalesChannel.SHOPIFY, "shopify", secret, default=True)
    for delivery in deliveries:
        receive_shopify(database, delivery.body, delivery.signature, shop, delivery.event_id)


def _work(environment: dict[str, str], batch: int, name: str, go: Any, results: Any) -> None:
    from backend.jobs.worker import Worker
    from portal.background import build_handlers
    from portal.integrations import build_integrations
    from portal.settings import load_settings

    settings = load_settings(environment)
    settings.install_keyring()
    # Its connections are named, so that their server processes' CPU can be read apart from
    # what other clients of the same PostgreSQL spend.
    label = f"bench-intake-{os.getpid()}"
    postgres = not settings.database_url.startswith("sqlite")
    options = {"connect_args": {"application_name": label}} if postgres else {}
    database = Database(settings.database_url, **options)
    integrations = build_integrations(settings)
    counted = [0]

    @event.listens_for(database.engine, "before_cursor_execute")
    def _count(*_args: object) -> None:
        counted[0] += 1

    worker = Worker(database, build_handlers(settings, integrations), name=name, batch_size=batch)
    results.put("ready")
    go.wait()
    cpu = time.process_time()
    ran = worker.run_until_idle(limit=10**9)
    cpu, finished = time.process_time() - cpu, time.perf_counter()
    served = _backend_cpu_seconds(database, label) if postgres else None
    results.put(WorkerRun(ran, counted[0], cpu, finished, served))
    integrations.close()
    database.dispose()


def _backend_cpu_seconds(database: Database, label: str) -> float:
    """CPU the server processes of these connections used since they were opened (this run:
    the worker opens its first connection at its first claim)."""
    with database.read() as session:
        pids = session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :label"),
            {"label": label},
        ).all()
    return sum(process_cpu_seconds(int(pid)) or 0.0 for pid in pids)


def _created(database: Database) -> int:
    with database.read() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(ChannelEvent)
                .where(ChannelEvent.outcome == IntakeOutcome.CREATED)
            )
            or 0
        )


def _left(database: Database) -> int:
    with database.read() as session:
        pending = Job.status != JobStatus.DONE
        query = select(func.count()).select_from(Job).where(Job.kind == INGEST, pending)
        return session.scalar(query) or 0


def drain_with(
    database: Database,
    environment: dict[str, str],
    label: str,
    workers: int,
    batch: int,
) -> DrainRun:
    """`workers` processes with batches of `batch` drain what is due; timed from one start."""
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=_work, args=(environment, batch, f"bench-{label}-{n}", go, results))
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        if results.get(timeout=120) != "ready":
            raise RuntimeError("a bench worker did not start")
    created = _created(database)
    started = time.perf_counter()
    go.set()
    runs = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(60)
    served = [run.postgres_cpu_seconds for run in runs]
    pg = None if None in served else sum(seconds or 0.0 for seconds in served)
    return DrainRun(
        label=label,
        workers=workers,
        batch=batch,
        orders=_created(database) - created,
        jobs=sum(run.jobs for run in runs),
        seconds=max(run.finished for run in runs) - started,
        cpu_seconds=sum(run.cpu_seconds for run in runs),
        statements=sum(run.statements for run in runs),
        postgres_cpu_seconds=pg,
        left=_left(database),
    )


def describe(run: DrainRun, baseline: DrainRun) -> str:
    pg = run.postgres_cpu_seconds
    pg_ms = f" + {pg * 1000 / max(run.orders, 1):.2f} ms PostgreSQL" if pg is not None else ""
    cpu_ratio = run.cpu_ms / max(baseline.cpu_ms, 1e-9)
    return (
        f"{run.rate:7,.0f} orders/s ({run.rate / max(baseline.rate, 1e-9):.2f}× baseline), "
        f"{run.cpu_ms:.2f} ms worker CPU/order{pg_ms} ({cpu_ratio:.2f}×), "
        f"{run.statements_per_order:.1f} statements/order "
        f"({run.statements_per_order / max(baseline.statements_per_order, 1e-9):.2f}×); "
        f"{run.orders:,} orders from {run.jobs:,} jobs in {run.seconds:.1f} s, {run.left} left"
    )


def cores() -> int:
    return len(os.sched_getaffinity(0))
