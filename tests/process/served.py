"""`portal serve` as a real process on a free loopback port, with its log kept in a file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import KUAIDI100_SALT, TEST_KEYS

STARTUP_SECONDS = 60.0


@dataclass(frozen=True)
class ServedPortal:
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def portal_environment(database_url: str, workdir: Path, port: int) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    return environment | {
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_SECRET_KEYS": ",".join(TEST_KEYS),
        "PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
        "PORTAL_KUAIDI100_SALT": KUAIDI100_SALT,
        "PORTAL_PHOTO_DIR": str(workdir / "photos"),
        "PORTAL_QUIET_HOURS": "00:00-00:00",
    }


@contextmanager
def portal_serve(
    database_url: str,
    workdir: Path,
    *arguments: str,
    environment: dict[str, str] | None = None,
) -> Iterator[ServedPortal]:
    """Started and answering /ping on entry; stopped with SIGTERM (or killed) on exit."""
    port = free_port()
    log = workdir / "portal-serve.log"
    command = [sys.executable, "-m", "portal.cli", "serve", "--port", str(port), *arguments]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=portal_environment(database_url, workdir, port) | (environment or {}),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    served = ServedPortal(f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_answering(process, served)
        yield served
    finally:
        _stop(process)


def _wait_until_answering(process: subprocess.Popen[bytes], served: ServedPortal) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"portal serve exited:\n{served.log_text()}")
        try:
            if httpx.get(f"{served.url}/ping", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"portal serve did not answer:\n{served.log_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
