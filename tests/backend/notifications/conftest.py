"""Fixtures: the notification emulator served for real by uvicorn on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from emulators.notifications import NotificationEmulator

ACCESS_KEY_ID = "LTAItestKeyId"
ACCESS_KEY_SECRET = "test-access-key-secret"
SIGN_NAME = "小店物流"
SHIPPED_TEMPLATE = "SMS_460000001"
SMS_TEMPLATES = {SHIPPED_TEMPLATE: "您的订单${order_no}已发货，${carrier}运单号${tracking_no}"}
APPID = "wx1234567890abcdef"
APP_SECRET = "test-app-secret"
TEMPLATE_ID = "tmpl-shipped-0001"
OPENID = "oABCDEFGHIJKLmnopqrstuvwxyz0"


@pytest.fixture
def emulator() -> NotificationEmulator:
    return NotificationEmulator(
        aliyun_keys={ACCESS_KEY_ID: ACCESS_KEY_SECRET},
        sign_names={SIGN_NAME},
        sms_templates=SMS_TEMPLATES,
        wechat_apps={APPID: APP_SECRET},
        require_grants=True,
    )


@pytest.fixture
def emulator_url(emulator: NotificationEmulator) -> Iterator[str]:
    """Base URL of the emulator, served on 127.0.0.1 for the length of one test."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        emulator.app, lifespan="off", ws="none", http="h11", loop="asyncio", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "emulator did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client
