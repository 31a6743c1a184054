"""`portal worker` as a process: one named worker, stopped by SIGTERM or SIGINT after its job.

The stop signals are blocked and taken synchronously here (sigtimedwait) on the main
thread, while the worker runs on another: a Python signal handler would run between
two bytecodes of whatever the worker was doing (inside a lock, a commit, an HTTP call),
and KeyboardInterrupt would abandon the job in hand. The first signal stops claiming
and lets the job finish, then the process exits 0; a second one exits at once, and the
job it cut off is taken back when this worker starts again.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass

from backend.db import Database
from backend.jobs.leases import SlotInUse
from backend.jobs.worker import Worker
from portal.background import build_worker
from portal.integrations import Integrations, build_integrations
from portal.settings import Settings

log = logging.getLogger(__name__)

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


@dataclass
class WorkerProcess:
    database: Database
    integrations: Integrations
    worker: Worker

    def close(self) -> None:
        self.integrations.close()
        self.database.dispose()


def open_worker(settings: Settings, name: str | None = None) -> WorkerProcess:
    database = Database(settings.database_url)
    integrations = build_integrations(settings)
    name = name or settings.worker_name or "worker"
    return WorkerProcess(
        database, integrations, build_worker(database, settings, integrations, name)
    )


def _next_signal(thread: threading.Thread) -> int | None:
    """The next stop signal, or None once the thread has ended."""
    while thread.is_alive():
        received = signal.sigtimedwait(STOP_SIGNALS, 0.5)
        if received is not None:
            return received.si_signo
    return None


def run_until_signalled(process: WorkerProcess) -> int:
    """Exit status: 0 after a stop signal, 2 when the name is taken, 1 if the loop failed."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # before any thread exists
    worker, failures = process.worker, []
    try:
        worker.start()
    except SlotInUse as error:
        print(f"not started: {error}; give each worker its own --name", file=sys.stderr)
        process.close()
        return 2

    def run() -> None:
        try:
            worker.run_forever()
        except Exception as error:
            log.exception("worker stopped by an error")
            failures.append(error)

    thread = threading.Thread(target=run, name="portal-worker")
    thread.start()
    print(f"worker {worker.name} running (pid {os.getpid()}); Ctrl-C to stop", flush=True)
    first = _next_signal(thread)
    if first is not None:
        log.info("%s: finishing the job in hand, then stopping", signal.Signals(first).name)
        worker.stop()
        second = _next_signal(thread)
        if second is not None:
            log.warning("%s again: stopping now", signal.Signals(second).name)
            logging.shutdown()
            os._exit(128 + second)
    thread.join()
    process.close()
    return 1 if failures else 0
