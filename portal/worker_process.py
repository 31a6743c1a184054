"""`portal worker` as a process: one named worker, stopped by SIGTERM or SIGINT after its job.

The worker runs on its own thread; the main thread only waits for it, on a socket the
interpreter writes each signal's number to (`signal.set_wakeup_fd`), and acts on it at
once in ordinary code. The handlers themselves do nothing: code run in a handler runs
between two bytecodes of whatever the main thread holds, and the default SIGINT
handler's KeyboardInterrupt would abandon the job in hand. The first signal stops
claiming and lets the job finish, then the process exits 0; a second one exits at once,
and the job it cut off is taken back when this worker starts again.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
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

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class WorkerProcess:
    database: Database
    integrations: Integrations
    worker: Worker

    def close(self) -> None:
        self.integrations.close()
        self.database.dispose()


def open_worker(settings: Settings, name: str | None = None) -> WorkerProcess:
    settings.install_keyring()
    database = Database(settings.database_url)
    integrations = build_integrations(settings, database)
    name = name or settings.worker_name or "worker"
    worker = build_worker(database, settings, integrations, name)
    return WorkerProcess(database, integrations, worker)


def _next_signal(thread: threading.Thread, wakeup: socket.socket) -> int | None:
    """The next stop signal, or None once the thread has ended."""
    while thread.is_alive():
        ready, _, _ = select.select([wakeup], [], [], 0.5)
        for number in wakeup.recv(64) if ready else b"":
            if number in STOP_SIGNALS:
                return number
    return None


def run_until_signalled(process: WorkerProcess) -> int:
    """Exit status: 0 after a stop signal, 2 when the name is taken, 1 if the worker ended
    by itself (an error, or another process took its name over)."""
    wakeup, written = socket.socketpair()
    written.setblocking(False)
    signal.set_wakeup_fd(written.fileno(), warn_on_full_buffer=False)
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: None)
    worker = process.worker
    try:
        worker.start()
    except SlotInUse as error:
        print(f"not started: {error}; give each worker its own --name", file=sys.stderr)
        process.close()
        return 2
    thread = threading.Thread(target=worker.run_forever, name="portal-worker")
    thread.start()
    print(f"worker {worker.name} running (pid {os.getpid()}); Ctrl-C to stop", flush=True)
    first = _next_signal(thread, wakeup)
    if first is not None:
        log.info("%s: finishing the job in hand, then stopping", signal.Signals(first).name)
        worker.stop()
        second = _next_signal(thread, wakeup)
        if second is not None:
            log.warning("%s again: stopping now", signal.Signals(second).name)
            logging.shutdown()
            os._exit(128 + second)
    thread.join()
    process.close()
    return 0 if first is not None else 1
