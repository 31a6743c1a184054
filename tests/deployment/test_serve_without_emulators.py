"""`portal serve` without PORTAL_DEMO_EMULATORS never imports the emulators (the image has none)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.process.processes import ROOT
from tests.process.served import free_port, portal_environment
from tests.waiting import wait_until

# `emulators` made unimportable, as in the image: any import of it raises ImportError.
WITHOUT_EMULATORS = (
    "import sys; sys.modules['emulators'] = None; from portal.cli import main; sys.exit(main())"
)


def test_serve_answers_and_stops_cleanly_with_the_emulators_unimportable(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "portal.db"
    shutil.copy(sqlite_template, database)
    port = free_port()
    environment = portal_environment(f"sqlite:///{database}", tmp_path, port)
    environment["PYTHONPATH"] = str(ROOT)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", WITHOUT_EMULATORS, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:

        def healthy() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout=60, what="portal serve to answer /healthz")
        page = httpx.get(f"http://127.0.0.1:{port}/lookup", timeout=10)
        assert page.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "emulators" not in log.read_text()
