"""What every refund gateway shares: the protocol, the normalized refund, errors, RSA helpers."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact
# and needs no tzdata on the host.

# Every outbound call has a deadline; a refund call that hangs must not hold a worker.
# A timeout on a refund leaves its outcome unknown, which is why every call carries a key.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class RefundStatus(StrEnum):
    """A refund's state at the gateway, the same words for every gateway."""

    PROCESSING = "processing"  # accepted, money not yet back: wait for the notify or query
    SUCCESS = "success"  # money is back with the customer (final)
    CLOSED = "closed"  # the gateway gave up on this refund (final)
    ABNORMAL = "abnormal"  # stuck, e.g. the customer's card is gone: needs a person
    # A status no document lists. Never guessed into one of the above: keep querying
    # like PROCESSING, and alert, since the raw value is kept for a person to read.
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        return self in (RefundStatus.SUCCESS, RefundStatus.CLOSED)


@dataclass(frozen=True)
class GatewayRefund:
    """One refund as a gateway reported it, from an apply answer, a query or a notify."""

    gateway: str  # "wechatpay" | "alipay"
    out_refund_no: str  # our idempotency key (WeChat out_refund_no, Alipay out_request_no)
    status: RefundStatus
    raw_status: str  # the gateway's own word, kept for people and for UNKNOWN
    amount_fen: int | None  # this refund's amount; None: not told (Alipay's notify)
    gateway_refund_id: str | None = None  # WeChat refund_id; Alipay has none
    success_time: datetime | None = None  # aware, UTC
    received_account: str | None = None  # e.g. "支付用户零钱", "招商银行信用卡0403"
    payment_reference: str | None = None  # out_trade_no as the gateway echoed it
    gateway_payment_id: str | None = None  # WeChat transaction_id / Alipay trade_no
    refunded_total_fen: int | None = None  # Alipay refund_fee: all refunds of the trade so far
    funds_moved: bool | None = None  # Alipay fund_change: did *this call* move money


class RefundGateway(Protocol):
    """A payment gateway that can refund a payment and report on a refund.

    `out_refund_no` is the idempotency key: the caller stores it before the call and
    reuses it for every retry, so a repeated call never refunds twice.
    """

    gateway: str

    def refund(
        self,
        payment_reference: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
    ) -> GatewayRefund:
        """Ask for a refund; raises GatewayUnavailable (retry, same key) or GatewayRejected."""
        ...

    def query(self, out_refund_no: str, payment_reference: str) -> GatewayRefund:
        """The refund's current state; RefundNotFound when the gateway never took it."""
        ...


class GatewayError(Exception):
    """A refund call that did not produce a refund report."""

    def __init__(
        self,
        gateway: str,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(f"{gateway}: {code or status_code or 'error'}: {message}")
        self.gateway = gateway
        self.message = message
        self.code = code
        self.status_code = status_code


class GatewayUnavailable(GatewayError):
    """Transport error, timeout, 5xx or a "system busy" code: the outcome is unknown.

    Retry with the SAME out_refund_no; the gateway then refunds at most once.
    """

    retryable = True


class ResponseNotTrusted(GatewayUnavailable):
    """An answer whose signature did not verify, or that lacked the documented shape.

    Its content is ignored; retrying with the same key (or querying) is safe. Alert on it:
    it means a key rotation we missed or something between us and the gateway.
    """


class GatewayRejected(GatewayError):
    """The gateway answered and refused (4xx, business error): retrying will not help."""

    retryable = False


class RefundExceedsPayment(GatewayRejected):
    """The refunds of this payment would add up to more than was paid."""


class RefundNotFound(GatewayRejected):
    """The gateway has no refund under this key: it never received the apply call.

    Re-sending the refund with the same key is then safe and is the way forward.
    """


class NotifyRejected(Exception):
    """An inbound notify failed a check (signature, age, decryption, shape): answer 4xx."""


class MalformedPayload(ValueError):
    """A gateway payload that does not have the documented shape."""


def load_private_key(pem: bytes | str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#8 as WeChat's apiclient_key.pem, or PKCS#1)."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(pem: bytes | str) -> rsa.RSAPublicKey:
    """An RSA public key from a PEM public key or a PEM X.509 certificate.

    WeChat Pay hands out either a platform certificate or, newer, a 微信支付公钥; Alipay
    hands out a bare public key, sometimes without the PEM armour.
    """
    text = pem.decode("ascii") if isinstance(pem, bytes) else pem
    text = text.strip()
    if "-----BEGIN" not in text:
        text = f"-----BEGIN PUBLIC KEY-----\n{text}\n-----END PUBLIC KEY-----"
    data = text.encode("ascii")
    key: object
    if "CERTIFICATE" in text:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def sign_sha256_rsa(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64(SHA256withRSA, PKCS#1 v1.5): WeChat Pay APIv3 and Alipay RSA2 both use it."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_sha256_rsa(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    """True when `signature` (Base64) is SHA256withRSA over `message` by `public_key`."""
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def is_retryable_status(status_code: int) -> bool:
    # 408 and 429 are 4xx but mean "not now", not "never": they are retried like a 5xx.
    return status_code >= 500 or status_code in (408, 429)
