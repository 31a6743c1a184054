"""What the payment emulators share: one ledger of payments and refunds, faults, keys, notifies."""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette

CHINA_TIME = timezone(timedelta(hours=8))
SIGNATURE_WINDOW = 300  # unconfirmed: both refuse stale request timestamps; 5 min assumed


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def is_signed(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def china_time(moment: datetime) -> str:
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Faults:
    """Switches for tests; the `*_next` counters are used up as they fire."""

    fail_next: int = 0  # answer the next N API calls with HTTP 500 SYSTEM_ERROR, doing nothing
    hang_next: int = 0  # make the next N new refunds, then stall `hang_seconds` before answering
    hang_seconds: float = 2.0
    duplicate_notify: bool = False  # deliver every notify twice (same id, as a redelivery)
    notify_before_response: bool = False  # settle and notify before the apply answer goes out


@dataclass(frozen=True)
class Payment:
    out_trade_no: str
    total_fen: int
    transaction_id: str
    trade_no: str
    received_account: str
    notify_url: str = ""  # given when the payment was made; Alipay's refund notifies go here
    paid_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class EmulatedRefund:
    gateway: str
    key: str  # out_refund_no / out_request_no
    out_trade_no: str
    amount_fen: int
    refund_id: str
    status: str
    created_at: datetime
    notify_url: str = ""
    success_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """One notify as it went out, and what the receiver said."""

    url: str
    status: int | None  # None: the receiver could not be reached
    text: str


class Ledger:
    """Payments and refunds of both gateways; a refund key never refunds twice."""

    def __init__(self, *, settle_delay: float, default_notify_url: str) -> None:
        self.settle_delay, self.default_notify_url = settle_delay, default_notify_url
        self.faults = Faults()
        self.payments: dict[str, Payment] = {}
        self.refunds: dict[tuple[str, str], EmulatedRefund] = {}  # (gateway, key)
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self._delivered = threading.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    def seed_payment(
        self,
        out_trade_no: str,
        total_fen: int,
        *,
        received_account: str = "支付用户零钱",
        notify_url: str = "",
    ) -> Payment:
        stamp = datetime.now(CHINA_TIME).strftime("%Y%m%d")
        payment = Payment(
            out_trade_no,
            total_fen,
            transaction_id=f"4200{secrets.randbelow(10**24):024d}",
            trade_no=f"{stamp}22001{secrets.randbelow(10**15):015d}",
            received_account=received_account,
            notify_url=notify_url or self.default_notify_url,
        )
        with self.lock:
            self.payments[out_trade_no] = payment
        return payment

    def refunds_of(self, out_trade_no: str) -> list[EmulatedRefund]:
        with self.lock:
            return [r for r in self.refunds.values() if r.out_trade_no == out_trade_no]

    def refunded_fen(self, out_trade_no: str) -> int:
        return sum(refund.amount_fen for refund in self.refunds_of(out_trade_no))

    def find_payment(self, reference: Any, gateway_id: str) -> Payment | None:
        """The payment by our out_trade_no or the gateway's own id ("transaction_id" for
        WeChat Pay, "trade_no" for Alipay). The caller holds the lock."""
        return next(
            (
                p
                for p in self.payments.values()
                if reference in (p.out_trade_no, getattr(p, gateway_id))
            ),
            None,
        )

    def spent(self, out_trade_no: str) -> int:
        return sum(r.amount_fen for r in self.refunds.values() if r.out_trade_no == out_trade_no)

    def record(self, refund: EmulatedRefund, limit: int) -> bool:
        """Store a new refund unless it would take the payment's refunds over `limit`."""
        if self.spent(refund.out_trade_no) + refund.amount_fen > limit:
            return False
        self.refunds[(refund.gateway, refund.key)] = refund
        return True

    def take_fault(self, name: str) -> bool:
        with self.lock:
            if getattr(self.faults, name) > 0:
                setattr(self.faults, name, getattr(self.faults, name) - 1)
                return True
            return False

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background; cancelled when the app stops."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, url: str, content: bytes, headers: Mapping[str, str]) -> None:
        """POST one notify and keep what came back."""
        if not url or self._http is None:
            return
        try:
            answer = await self._http.post(url, content=content, headers=dict(headers))
            delivery = Delivery(url, answer.status_code, answer.text[:200])
        except httpx.HTTPError as error:
            delivery = Delivery(url, None, repr(error))
        with self._delivered:
            self.deliveries.append(delivery)
            self._delivered.notify_all()

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """For tests: block until `count` notifies went out (or fail after `timeout`)."""
        with self._delivered:
            arrived = self._delivered.wait_for(lambda: len(self.deliveries) >= count, timeout)
            assert arrived, f"{len(self.deliveries)} of {count} notifies went out"
            return list(self.deliveries)

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as http:
            self._http = http
            try:
                yield
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._http = None
