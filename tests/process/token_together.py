"""`python -m tests.process.token_together GO_FILE`: one process asking for the WeChat token.

Set up as the portal sets up (settings from the environment, its own engine, the token
provider `build_integrations` wires in), then it announces GO_FILE.<pid>.ready and waits
for GO_FILE, so that every process asks at the same moment. Prints the token it got.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

from backend.db import Database
from portal.integrations import wechat_tokens
from portal.settings import load_settings


def main(go: Path, timeout: float = 300.0) -> int:
    settings = load_settings()
    database = Database(settings.database_url)
    with database.engine.connect(), httpx.Client() as http:
        tokens = wechat_tokens(settings, http, database)
        Path(f"{go}.{os.getpid()}.ready").touch()
        deadline = time.monotonic() + timeout
        while not go.exists():
            if time.monotonic() > deadline:
                return 3
            time.sleep(0.001)
        print(f"token={tokens.token()}", flush=True)
    database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
