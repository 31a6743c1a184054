"""Real `portal` processes on the test database, started and signalled as a supervisor would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from backend.db import Database
from tests.conftest import CHANNEL_SECRET, SHOPIFY_SECRET, TEST_KEYS
from tests.waiting import wait_until

PORTAL = Path(sys.executable).with_name("portal")  # the console script `pip install` made
ROOT = Path(__file__).resolve().parents[2]


def portal_environment(database: Database, var_dir: Path, **settings: object) -> dict[str, str]:
    """What a deployment would set: the test database, keys, secrets, and nothing of ours."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    environment |= {
        "PORTAL_DATABASE_URL": database.url,
        "PORTAL_SECRET_KEYS": ",".join(TEST_KEYS),
        "PORTAL_VAR_DIR": str(var_dir),
        "PORTAL_PHOTO_DIR": str(var_dir / "photos"),
        "PORTAL_EXPORT_DIR": str(var_dir / "exports"),
        "PORTAL_QUIET_HOURS": "00:00-00:00",
        "PORTAL_SHOPIFY_WEBHOOK_SECRET": SHOPIFY_SECRET,
        "PORTAL_CHANNEL_SECRETS": f"taobao={CHANNEL_SECRET}",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),  # for the `python -m tests.process...` entry point
    }
    return environment | variables(settings)


def variables(settings: dict[str, object]) -> dict[str, str]:
    return {f"PORTAL_{name.upper()}": str(value) for name, value in settings.items()}


class Processes:
    """Every process a test starts; whatever happened, none outlives the test."""

    def __init__(self, environment: dict[str, str], log_dir: Path) -> None:
        self.environment, self.log_dir = environment, log_dir
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, command: list[str], **settings: object) -> subprocess.Popen[bytes]:
        log = self.log_dir / f"process-{len(self.started)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                env=self.environment | variables(settings),
                cwd=self.log_dir,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.started.append((process, log))
        return process

    def worker(self, name: str, **settings: object) -> subprocess.Popen[bytes]:
        """`portal worker` named `name` (PORTAL_WORKER_NAME, as a unit file would set it)."""
        return self.start([str(PORTAL), "worker"], worker_name=name, **settings)

    def workers_together(self, names: list[str]) -> list[subprocess.Popen[bytes]]:
        """`portal worker` for each name, set up first, then all let go at the same moment."""
        go = self.log_dir / f"go-{len(self.started)}"
        command = [sys.executable, "-m", "tests.process.start_together", str(go)]
        started = [self.start(command, worker_name=name) for name in names]
        wait_until(
            lambda: (
                len(list(self.log_dir.glob(f"{go.name}.*.ready"))) == len(names)
                or any(process.poll() is not None for process in started)
            ),
            timeout=120,
            what="the workers to be set up",
        )
        go.touch()
        return started

    def output(self, process: subprocess.Popen[bytes]) -> str:
        log = next(log for started, log in self.started if started is process)
        return log.read_text(errors="replace")

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for process, _log in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=60)  # reaped: a zombie would still look alive to a new worker
