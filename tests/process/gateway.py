"""The WeChat Pay emulator on loopback behind a gate, and refunds waiting to be paid through it.

The gate stands where the network does. Shut, it holds the requests that reach it: the
worker is then in the middle of its job, waiting for the gateway, for as long as the test
needs. Opened, held requests go on to the gateway; dropped, they are lost on the way and
the gateway never sees them, as when a worker dies before its request got out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from backend.db import Database
from backend.jobs.worker import Worker
from backend.orders.lifecycle import OrderStatus
from backend.refunds import payouts
from emulators.payments import PaymentsEmulator
from portal.background import build_handlers
from portal.integrations import build_integrations
from portal.settings import Settings
from tests.browser.live import bind_free_port, serving, url_of
from tests.factories import SYSTEM, make_order

NOWHERE = "http://127.0.0.1:9"  # notify deliveries fail fast; refunds are counted at the gateway


class Gate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.shut = False
        self.forward_held = True
        self.held = 0
        # Shut by itself once this many requests went through: a test that shuts it after
        # seeing them paid can come too late on a busy machine, when every one is paid.
        self.shut_after: int | None = None
        self.passed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.shut_after is not None:
            if self.passed >= self.shut_after:
                self.shut, self.shut_after = True, None
            else:
                self.passed += 1
        if scope["type"] == "http" and self.shut:
            self.held += 1
            while self.shut:
                await asyncio.sleep(0.02)
            if not self.forward_held:
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)

    def open(self) -> None:
        self.forward_held, self.shut, self.shut_after = True, False, None

    def drop(self) -> None:
        self.forward_held, self.shut = False, False


@dataclass
class Gateway:
    emulator: PaymentsEmulator
    gate: Gate
    settings: dict[str, str]  # what `portal worker` needs to pay refunds through it

    def refunds_of(self, order_no: str) -> list[int]:
        return [refund.amount_fen for refund in self.emulator.refunds_of(order_no)]

    def paid(self, refunds: list[tuple[str, int]]) -> int:
        """How many of these orders' refunds the gateway has made."""
        return sum(len(self.refunds_of(order)) for order, _ in refunds)


@contextmanager
def wechat_pay_gateway(key_dir: Path) -> Iterator[Gateway]:
    emulator = PaymentsEmulator()
    credentials = emulator.enroll_wechat_merchant("1900000109")
    private, platform = key_dir / "apiclient_key.pem", key_dir / "platform.pem"
    private.write_text(credentials.private_key_pem)
    platform.write_text(credentials.platform_public_key_pem)
    gate = Gate(emulator.app)
    sock = bind_free_port()
    try:
        with serving(gate, sock):
            yield Gateway(
                emulator,
                gate,
                {
                    "wechatpay_mchid": credentials.mchid,
                    "wechatpay_serial_no": credentials.serial_no,
                    "wechatpay_private_key_file": str(private),
                    "wechatpay_platform_keys": f"{credentials.platform_serial}={platform}",
                    "wechatpay_api_v3_key": credentials.api_v3_key.decode(),
                    "wechatpay_base_url": url_of(sock),
                    "base_url": NOWHERE,
                },
            )
    finally:
        sock.close()


def stored_refunds(
    database: Database, settings: Settings, gateway: Gateway, count: int
) -> list[tuple[str, int]]:
    """`count` delivered orders paid by WeChat Pay, each with a refund stored to be paid.

    The jobs the orders brought (subscriptions, notices) are run here first, so the
    refunds are the work a worker finds waiting.
    """
    orders = [make_order(database, status=OrderStatus.DELIVERED) for _ in range(count)]
    integrations = build_integrations(settings)
    try:
        Worker(database, build_handlers(settings, integrations)).run_until_idle()
    finally:
        integrations.close()
    refunds = []
    for number, order in enumerate(orders):
        gateway.emulator.seed_payment(order.public_no, order.paid_fen)
        with database.write() as session:
            payouts.start_refund(session, order.id, 1_000 + number, SYSTEM)
        refunds.append((order.public_no, 1_000 + number))
    return refunds
