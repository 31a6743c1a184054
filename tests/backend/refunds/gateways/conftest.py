"""Fixtures: the payments emulator served for real on loopback, a notify inbox, live clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from backend.refunds.gateways.alipay import AlipayClient
from backend.refunds.gateways.base import load_private_key, load_public_key
from backend.refunds.gateways.wechatpay import NOTIFY_REPLY_OK, WeChatPayClient
from emulators.payments import PaymentsEmulator

# Short enough that the "hang after processing" fault (1 s) times the client out.
CLIENT_TIMEOUT = httpx.Timeout(0.5, connect=2.0)
HANG_SECONDS = 1.0
SETTLE_DELAY = 0.2


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """uvicorn on a free loopback port in a thread, lifespan on; yields the base URL."""
    # IPPROTO_TCP makes asyncio set TCP_NODELAY, sparing every answer a delayed-ACK wait.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan="on", ws="none", http="h11", loop="asyncio", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive(), "server did not stop"


class NotifyInbox:
    """Our webhook's stand-in: keeps each delivery's headers and raw body, answers 200."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self._arrived = threading.Condition()
        self.app = Starlette(
            routes=[
                Route("/webhooks/wechatpay/refund", self._receive, methods=["POST"]),
                Route("/webhooks/alipay/notify", self._receive_form, methods=["POST"]),
            ]
        )

    async def _keep(self, request: Request) -> None:
        body = await request.body()
        with self._arrived:
            self.deliveries.append((dict(request.headers), body))
            self._arrived.notify_all()

    async def _receive(self, request: Request) -> Response:
        await self._keep(request)
        return JSONResponse(NOTIFY_REPLY_OK)

    async def _receive_form(self, request: Request) -> Response:
        await self._keep(request)
        return PlainTextResponse("success")

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)


@pytest.fixture
def inbox() -> Iterator[tuple[NotifyInbox, str]]:
    receiver = NotifyInbox()
    with serve(receiver.app) as url:
        yield receiver, f"{url}/webhooks/wechatpay/refund"


@pytest.fixture
def emulator(inbox: tuple[NotifyInbox, str]) -> Iterator[tuple[PaymentsEmulator, str]]:
    gateway = PaymentsEmulator(settle_delay=SETTLE_DELAY)
    gateway.faults.hang_seconds = HANG_SECONDS
    with serve(gateway.app) as url:
        yield gateway, url


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def wechat(
    emulator: tuple[PaymentsEmulator, str],
    inbox: tuple[NotifyInbox, str],
    http: httpx.Client,
) -> WeChatPayClient:
    gateway, url = emulator
    credentials = gateway.enroll_wechat_merchant("1900000109")
    return WeChatPayClient(
        http,
        mchid=credentials.mchid,
        serial_no=credentials.serial_no,
        private_key=load_private_key(credentials.private_key_pem),
        platform_keys={
            credentials.platform_serial: load_public_key(credentials.platform_public_key_pem)
        },
        api_v3_key=credentials.api_v3_key,
        notify_url=inbox[1],
        base_url=url,
        timeout=CLIENT_TIMEOUT,
    )


@pytest.fixture
def alipay(emulator: tuple[PaymentsEmulator, str], http: httpx.Client) -> AlipayClient:
    gateway, url = emulator
    credentials = gateway.enroll_alipay_app("2021000000000001")
    return AlipayClient(
        http,
        app_id=credentials.app_id,
        private_key=load_private_key(credentials.private_key_pem),
        alipay_public_key=load_public_key(credentials.alipay_public_key_pem),
        gateway_url=f"{url}/gateway.do",
        timeout=CLIENT_TIMEOUT,
    )
