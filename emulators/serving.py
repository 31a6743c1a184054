"""Serve an emulator on a loopback port from a background thread (for the demo and tests)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Protocol
except ImportError:  # uvicorn without its [standard] extras
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Protocol  # type: ignore[assignment]

# Not uvicorn.access: in `make run` the emulators share the portal's process, whose access
# log would be flooded by their traffic (the app polls them several times a second).
# Off unless this logger is on for INFO (PORTAL_DEMO_EMULATOR_LOG, portal/log_config.py).
ACCESS_LOG = logging.getLogger("emulators.access")


class EmulatorProtocol(_Protocol):
    """uvicorn's HTTP protocol, with the access lines on the emulators' own logger."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_logger = ACCESS_LOG
        self.access_log = ACCESS_LOG.isEnabledFor(logging.INFO) and ACCESS_LOG.hasHandlers()


@contextmanager
def serve_in_thread(app: ASGIApp, port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """Yields the base URL while uvicorn answers on it; port 0 lets the kernel choose."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say they are TCP.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # No log_config nor log_level: the process's logging (the portal's, or pytest's) is not
    # reset or turned down for uvicorn's loggers, which the portal's own server shares.
    config = uvicorn.Config(
        app, lifespan="on", log_config=None, log_level=None, http=EmulatorProtocol
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("emulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
