"""`python -m tests.process.start_together GO_FILE`: `portal worker`, set up, waiting for GO_FILE.

Processes started one after another reach their first query seconds apart on a busy
machine, most of it spent importing and connecting; a supervisor restarting four
workers on a warm machine lines them up far closer. This is `portal worker` (the same
open_worker and run_until_signalled) with a pause after its set-up: it announces it is
ready with GO_FILE.<pid>.ready, and starts when GO_FILE appears, together with the rest.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from portal.settings import load_settings
from portal.worker_process import open_worker, run_until_signalled


def main(go: Path, timeout: float = 300.0) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    process = open_worker(load_settings())
    with process.database.engine.connect():  # connected, as a worker is a moment into its start
        pass
    Path(f"{go}.{os.getpid()}.ready").touch()
    deadline = time.monotonic() + timeout
    while not go.exists():
        if time.monotonic() > deadline:
            return 3
        time.sleep(0.001)
    return run_until_signalled(process)


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
