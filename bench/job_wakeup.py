"""Enqueue-to-start latency of an idle worker: the 0.5 s poll against LISTEN/NOTIFY.

A job is enqueued and committed at a random moment; the figure is the time from just
before that commit to its handler starting in a worker thread of this process
(`Worker.run_forever`, the loop `portal worker` runs). Polling is the loop with listening
turned off, as on SQLite (and on PostgreSQL while the listener is lost); notify is the
same loop listening on PostgreSQL. Enqueues are spaced at random so they fall anywhere
in the poll's half second. Without PORTAL_BENCH_DATABASE_URL only the SQLite poll runs.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from typing import Any

from backend.db import Database
from backend.jobs.queue import enqueue
from backend.jobs.worker import Worker
from backend.migrate import upgrade
from bench import Backend, _reset_postgres, list_backends, row, scratch_directory

JOBS = int(os.environ.get("PORTAL_BENCH_WAKEUP_JOBS", "60"))
KIND = "bench.wakeup"


def measure(database: Database, listen: bool, jobs: int = JOBS) -> list[float]:
    """Milliseconds from commit to handler start, one per job."""
    latencies: list[float] = []
    started = threading.Event()

    def handler(_database: Database, payload: dict[str, Any]) -> None:
        latencies.append((time.perf_counter() - payload["committed"]) * 1000)
        started.set()

    worker = Worker(database, {KIND: handler}, name=f"bench-{'notify' if listen else 'poll'}")
    thread = threading.Thread(target=worker.run_forever, kwargs={"listen": listen})
    thread.start()
    try:
        time.sleep(1.0)  # started and idle (listening, when it listens)
        for _ in range(jobs):
            time.sleep(random.uniform(0.1, 0.6))
            started.clear()
            with database.write() as session:
                enqueue(session, KIND, {"committed": time.perf_counter()})
            started.wait(30)
    finally:
        worker.stop()
        thread.join()
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def describe(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):.1f} ms, p99 {percentile(values, 0.99):.1f} ms "
        f"({len(values)} jobs)"
    )


def run_backend(backend: Backend) -> list[str]:
    if not backend.is_sqlite:
        _reset_postgres(backend.url)
    upgrade(backend.url)
    database = Database(backend.url)
    rows = []
    try:
        modes = [False] if backend.is_sqlite else [False, True]
        figures = {}
        for listen in modes:
            figures[listen] = measure(database, listen)
            label = "LISTEN/NOTIFY" if listen else "0.5 s poll"
            print(f"{backend.label}, {label}: enqueue to start {describe(figures[listen])}")
            rows.append(
                row("job wake-up", f"{backend.label}, {label}", describe(figures[listen]), "")
            )
        if True in figures:
            ratio = statistics.median(figures[False]) / statistics.median(figures[True])
            print(f"{backend.label}: notify starts a job {ratio:.0f}x sooner at the median")
    finally:
        database.dispose()
    return rows


def run() -> list[str]:
    print("== job wake-up: enqueue to start, idle worker ==")
    with scratch_directory() as directory:
        return [line for backend in list_backends(directory) for line in run_backend(backend)]


if __name__ == "__main__":
    for line in run():
        print(line)
