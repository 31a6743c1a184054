"""A live portal in a background thread, and Debian's Chromium dressed as a phone.

Shared by the browser fixtures and the screenshot script, so both see the app the same way.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from playwright.sync_api import Browser, Playwright
from starlette.types import ASGIApp

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
# Containers have no user namespaces and no GPU, and nothing may phone home during a test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = "iPhone 13"
STARTUP_SECONDS = 10.0


def bind_free_port() -> socket.socket:
    """A socket on a port the kernel picked; uvicorn listens on it and closes it on shutdown."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"http://{host}:{port}"


@contextmanager
def serving(app: ASGIApp, sock: socket.socket) -> Iterator[None]:
    """uvicorn on `sock` in a thread, from `server.started` until `should_exit` is honoured."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-portal", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live portal did not start; see the log above")
            time.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        thread.join(STARTUP_SECONDS)
    if thread.is_alive():
        raise RuntimeError("the live portal did not stop")


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def phone_context_options(playwright: Playwright, locale: str = "zh-CN") -> dict[str, Any]:
    """An iPhone 13 in China: its viewport, touch, user agent and scale, a Chinese locale."""
    device = dict(playwright.devices[PHONE])
    # The descriptor names WebKit as its browser; Chromium takes the rest as it is.
    device.pop("default_browser_type", None)
    return {**device, "locale": locale, "timezone_id": "Asia/Shanghai"}
