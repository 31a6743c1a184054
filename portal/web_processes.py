"""`portal serve --workers N`: N uvicorn processes on one socket, each building its own app.

uvicorn's supervisor binds the socket, starts N processes (spawned, not forked: nothing
of this process's engine or threads is copied) and restarts one that dies. Each builds
its application with `portal.app:create_app` from the environment, which is why the
settings this process decided (the command line, the demo's emulators, a generated
key) are written into it first (`settings_environment`).

What must run once runs here, in the supervisor, not in every web process: the embedded
worker (SQLite has one writer, and the worker's slot `embedded` is one name) and the demo
emulators (their fixed ports). At SIGTERM or SIGINT the supervisor stops the worker
claiming at once, has uvicorn stop every web process (each drains its connections
first), then waits for the job in hand and exits 0.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
from socket import socket
from types import FrameType

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from backend.db import Database
from portal.background import EmbeddedWorker, build_worker
from portal.integrations import build_integrations
from portal.log_config import serve_log_config
from portal.settings import Settings, settings_environment

log = logging.getLogger(__name__)

APP_FACTORY = "portal.app:create_app"
HEALTHCHECK_SECONDS = 60


class Supervisor(Multiprocess):
    """uvicorn's supervisor, telling the embedded worker to stop as soon as a signal comes."""

    def __init__(
        self, config: Config, sockets: list[socket], embedded: EmbeddedWorker | None
    ) -> None:
        super().__init__(config, sockets)
        self.embedded = embedded
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop_signal)

    def _stop_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only sets flags: the supervisor's loop acts on the queue within half a second.
        if self.embedded is not None:
            self.embedded.worker.stop()
        self.signal_queue.append(signum)

    @property
    def failed_to_start(self) -> bool:
        return any(process.exitcode == STARTUP_FAILURE for process in self.processes)


def web_config(settings: Settings, host: str, port: int, workers: int) -> Config:
    return Config(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
        # See portal/logging_filters.py for what is logged, portal/log_config.py for how.
        log_config=serve_log_config(settings.log_format, settings.demo_emulator_log),
        # uvicorn's 5 s default kills, as hung, a process still importing on a busy machine.
        timeout_worker_healthcheck=HEALTHCHECK_SECONDS,
    )


def serve_processes(settings: Settings, host: str, port: int, workers: int) -> bool:
    """Serve until a stop signal; False if the port could not be bound or no process started."""
    # The web processes never embed the worker: it runs here, once.
    os.environ.update(settings_environment(settings) | {"PORTAL_EMBEDDED_WORKER": "0"})
    # Without a shared directory each process would count only its own requests, and a
    # scrape would tell one process's share; a fresh one per start holds no stale files.
    own_metrics = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_metrics = tempfile.mkdtemp(prefix="portal-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_metrics
    config = web_config(settings, host, port, workers)
    try:
        sock = config.bind_socket()  # uvicorn logs why, then exits, when it cannot
    except SystemExit:
        return False
    database = integrations = embedded = None
    try:
        if settings.embedded_worker:
            settings.install_keyring()
            database = Database(settings.database_url)
            integrations = build_integrations(settings, database)
            name = settings.worker_name or "embedded"
            embedded = EmbeddedWorker(build_worker(database, settings, integrations, name))
            embedded.start()
        supervisor = Supervisor(config, [sock], embedded)
        supervisor.run()
        return not supervisor.failed_to_start
    finally:
        if embedded is not None:
            embedded.stop()
        if integrations is not None:
            integrations.close()
        if database is not None:
            database.dispose()
        sock.close()
        if own_metrics is not None:
            shutil.rmtree(own_metrics, ignore_errors=True)
