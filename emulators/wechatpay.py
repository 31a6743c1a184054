"""A loopback WeChat Pay APIv3 refund API: signed requests, signed answers, sealed notifies."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulators.ledger import (
    CHINA_TIME,
    SIGNATURE_WINDOW,
    EmulatedRefund,
    Ledger,
    is_signed,
    new_key,
    private_pem,
    public_pem,
    sign,
)

REFUNDS_PATH = "/v3/refund/domestic/refunds"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
NOTIFY_FIELDS = (
    "out_trade_no",
    "transaction_id",
    "out_refund_no",
    "refund_id",
    "success_time",
    "user_received_account",
)
NOTIFY_AMOUNTS = ("total", "refund", "payer_total", "payer_refund")
AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class WeChatCredentials:
    """What a WeChatPayClient needs to talk to this emulator."""

    mchid: str
    serial_no: str
    private_key_pem: str
    platform_serial: str
    platform_public_key_pem: str
    api_v3_key: bytes


class WeChatPayEmulator:
    """Apply and query refunds; each new refund settles after a delay and is notified."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.platform_key = new_key()
        self.platform_serial = secrets.token_hex(20).upper()
        self._merchants: dict[str, tuple[str, rsa.RSAPublicKey, bytes]] = {}
        self.routes = [
            Route(REFUNDS_PATH, self._apply, methods=["POST"]),
            Route(REFUNDS_PATH + "/{key}", self._query, methods=["GET"]),
        ]

    def enroll(self, mchid: str) -> WeChatCredentials:
        key, serial = new_key(), secrets.token_hex(20).upper()
        api_v3_key = secrets.token_hex(16).encode()  # 32 ASCII characters
        with self.ledger.lock:
            self._merchants[mchid] = (serial, key.public_key(), api_v3_key)
        public = public_pem(self.platform_key.public_key())
        return WeChatCredentials(
            mchid, serial, private_pem(key), self.platform_serial, public, api_v3_key
        )

    def signed_headers(self, body: bytes) -> dict[str, str]:
        """The platform's signature headers, on every answer and every notify.

        Wechatpay-Signature-Type names the scheme; SDKs (wechatpayv3 among them) refuse
        a message without it.
        """
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": sign(self.platform_key, message),
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
            "Wechatpay-Serial": self.platform_serial,
        }

    def _response(self, status: int, payload: dict[str, Any]) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = self.signed_headers(body) | {"Request-ID": secrets.token_hex(16)}
        return Response(body, status, headers=headers, media_type="application/json")

    def _error(self, status: int, code: str, message: str) -> Response:
        return self._response(status, {"code": code, "message": message})

    def _caller(self, request: Request, body: bytes) -> str | None:
        """The mchid whose Authorization signature checks out over the raw path and body."""
        header = request.headers.get("authorization", "")
        scheme, _, rest = header.partition(" ")
        fields = dict(AUTH_FIELD.findall(rest))
        merchant = self._merchants.get(fields.get("mchid", ""))
        if scheme != SIGNATURE_TYPE or not merchant:
            return None
        serial, public_key, _ = merchant
        stamp = fields.get("timestamp", "")
        if fields.get("serial_no") != serial or not stamp.isdigit():
            return None
        if abs(time.time() - int(stamp)) > SIGNATURE_WINDOW:
            return None
        url = request.scope["raw_path"].decode()
        if request.scope["query_string"]:
            url += "?" + request.scope["query_string"].decode()
        head = f"{request.method}\n{url}\n{stamp}\n{fields.get('nonce_str', '')}\n".encode()
        ok = is_signed(public_key, head + body + b"\n", fields.get("signature", ""))
        return fields["mchid"] if ok else None

    def _view(self, refund: EmulatedRefund) -> dict[str, Any]:
        payment = self.ledger.payments[refund.out_trade_no]
        fen, total = refund.amount_fen, payment.total_fen
        view: dict[str, Any] = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.key,
            "transaction_id": payment.transaction_id,
            "out_trade_no": payment.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": payment.received_account,
            "create_time": refund.created_at.astimezone(CHINA_TIME).isoformat(timespec="seconds"),
            "status": refund.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": total,
                "refund": fen,
                "payer_total": total,
                "payer_refund": fen,
                "settlement_refund": fen,
                "settlement_total": total,
                "discount_refund": 0,
                "currency": "CNY",
            },
        }
        if refund.success_at:
            view["success_time"] = refund.success_at.astimezone(CHINA_TIME).isoformat()
        return view

    def _apply_locked(self, body: dict[str, Any]) -> tuple[int, Any, bool]:
        """(status, refund or error, is_new) for an apply request."""
        key, amount = str(body.get("out_refund_no") or ""), body["amount"]
        reference = body.get("out_trade_no") or body.get("transaction_id")
        payment = self.ledger.find_payment(reference, "transaction_id")
        if not key or not isinstance(amount.get("refund"), int) or not reference:
            return 400, ("PARAM_ERROR", "参数错误"), False
        existing = self.ledger.refunds.get(("wechatpay", key))
        if existing:
            # 同一商户退款单号多次请求只退一笔; refusing a changed amount is unconfirmed.
            if (
                existing.amount_fen != amount["refund"]
                or payment is None
                or existing.out_trade_no != payment.out_trade_no
            ):
                return 400, ("INVALID_REQUEST", "退款单号已存在，参数不一致"), False
            return 200, existing, False
        if payment is None:
            return 404, ("RESOURCE_NOT_EXISTS", "订单不存在"), False  # code unconfirmed
        if amount.get("total") != payment.total_fen or amount.get("currency", "CNY") != "CNY":
            return 400, ("INVALID_REQUEST", "订单金额与支付金额不一致"), False  # unconfirmed
        refund = EmulatedRefund(
            "wechatpay",
            key,
            payment.out_trade_no,
            amount["refund"],
            f"50{secrets.randbelow(10**28):028d}",
            "PROCESSING",
            datetime.now(UTC),
            str(body.get("notify_url") or self.ledger.default_notify_url),
        )
        if not self.ledger.record(refund, payment.total_fen):
            return 400, ("INVALID_REQUEST", "申请退款金额超过订单可退金额"), False  # unconfirmed
        return 200, refund, True

    async def _apply(self, request: Request) -> Response:
        if self.ledger.take_fault("fail_next"):
            return self._error(500, "SYSTEM_ERROR", "系统超时")
        raw = await request.body()
        with self.ledger.lock:
            mchid = self._caller(request, raw)
        if mchid is None:
            return self._error(401, "SIGN_ERROR", "签名错误")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("amount"), dict):
            return self._error(400, "PARAM_ERROR", "请求体不是JSON对象")
        with self.ledger.lock:
            status, outcome, is_new = self._apply_locked(body)
            view = self._view(outcome) if status == 200 else None
        if view is None:
            return self._error(status, *outcome)
        if is_new:
            await self._after_new_refund(outcome, mchid)
        return self._response(200, view)

    async def _after_new_refund(self, refund: EmulatedRefund, mchid: str) -> None:
        if self.ledger.faults.notify_before_response:
            await self._settle(refund, mchid, delay=0.0)  # the answer still says PROCESSING
        else:
            self.ledger.later(self._settle(refund, mchid, delay=self.ledger.settle_delay))
        if self.ledger.take_fault("hang_next"):
            await asyncio.sleep(self.ledger.faults.hang_seconds)  # refund stands; caller times out

    async def _query(self, request: Request) -> Response:
        if self.ledger.take_fault("fail_next"):
            return self._error(500, "SYSTEM_ERROR", "系统超时")
        with self.ledger.lock:
            if self._caller(request, b"") is None:
                return self._error(401, "SIGN_ERROR", "签名错误")
            refund = self.ledger.refunds.get(("wechatpay", request.path_params["key"]))
            view = self._view(refund) if refund else None
        if view is None:
            return self._error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self._response(200, view)

    async def _settle(self, refund: EmulatedRefund, mchid: str, *, delay: float) -> None:
        """PROCESSING -> SUCCESS after `delay`, then the encrypted REFUND.SUCCESS notify."""
        await asyncio.sleep(delay)
        with self.ledger.lock:
            settled = replace(refund, status="SUCCESS", success_at=datetime.now(UTC))
            self.ledger.refunds[("wechatpay", refund.key)] = settled
            body = self._notify_body(self._view(settled), mchid)
        for _ in range(2 if self.ledger.faults.duplicate_notify else 1):
            # Signed afresh each time, like a real redelivery (same body and event id).
            headers = self.signed_headers(body) | {"Content-Type": "application/json"}
            await self.ledger.deliver(settled.notify_url, body, headers)

    def _notify_body(self, view: dict[str, Any], mchid: str) -> bytes:
        """The notify envelope around the refund resource, sealed with the APIv3 key."""
        resource = {key: view[key] for key in NOTIFY_FIELDS} | {
            "mchid": mchid,
            "refund_status": view["status"],
            "amount": {key: view["amount"][key] for key in NOTIFY_AMOUNTS},
        }
        nonce = secrets.token_hex(6)  # 12 characters, used as the 12-byte GCM nonce
        plain = json.dumps(resource, ensure_ascii=False).encode()
        sealed = AESGCM(self._merchants[mchid][2]).encrypt(nonce.encode(), plain, b"refund")
        envelope = {
            "id": f"EV-{secrets.token_hex(10)}",
            "create_time": view["create_time"],
            "resource_type": "encrypt-resource",
            "event_type": "REFUND.SUCCESS",
            "summary": "退款成功",
            "resource": {
                "original_type": "refund",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(sealed).decode(),
                "associated_data": "refund",
                "nonce": nonce,
            },
        }
        return json.dumps(envelope, ensure_ascii=False).encode()
