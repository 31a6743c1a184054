"""The job handlers the portal runs, and the worker that runs them (embedded or standalone)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from backend.db import Database
from backend.jobs import Handler, Periodic, Worker
from backend.logistics.carriers import sandbox
from backend.orders.access import prune_lookup_attempts
from portal.settings import Settings


def build_worker(database: Database, settings: Settings, name: str | None = None) -> Worker:
    def advance_sandbox(db: Database, _payload: dict[str, Any]) -> None:
        sandbox.advance_shipments(db, speed=settings.sandbox_speed)

    def prune(db: Database, _payload: dict[str, Any]) -> None:
        prune_lookup_attempts(db)

    handlers: dict[str, Handler] = {
        "sandbox.advance": advance_sandbox,
        "access.prune_lookup_attempts": prune,
    }
    periodic = [
        Periodic("sandbox.advance", timedelta(seconds=5)),
        Periodic("access.prune_lookup_attempts", timedelta(hours=1)),
    ]
    return Worker(database, handlers, periodic, name=name)


class EmbeddedWorker:
    """A worker thread inside the web process, for the single-machine SQLite setup."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=worker.run_forever, name="portal-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(timeout=10)
