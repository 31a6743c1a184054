"""A loopback WeChat Pay APIv3 + Alipay refund gateway: keyed refunds, signed answers, notifies."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CHINA_TIME = timezone(timedelta(hours=8))
WECHAT_REFUNDS = "/v3/refund/domestic/refunds"
ALIPAY_GATEWAY = "/gateway.do"
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
    duplicate_notify: bool = False  # deliver every WeChat notify twice (same id, as redelivery)
    notify_before_response: bool = False  # settle and notify before the apply answer goes out


@dataclass(frozen=True)
class WeChatCredentials:
    """What a WeChatPayClient needs to talk to this emulator."""

    mchid: str
    serial_no: str
    private_key_pem: str
    platform_serial: str
    platform_public_key_pem: str
    api_v3_key: bytes


@dataclass(frozen=True)
class AlipayCredentials:
    """What an AlipayClient needs to talk to this emulator."""

    app_id: str
    private_key_pem: str
    alipay_public_key_pem: str


@dataclass(frozen=True)
class Payment:
    out_trade_no: str
    total_fen: int
    transaction_id: str
    trade_no: str
    received_account: str


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


class PaymentsEmulator:
    """Both gateways over one ledger of payments; a refund key never refunds twice."""

    def __init__(self, *, settle_delay: float = 0.2, default_notify_url: str = "") -> None:
        self.settle_delay, self.default_notify_url = settle_delay, default_notify_url
        self.faults = Faults()
        self.platform_key, self.alipay_key = new_key(), new_key()
        self.platform_serial = secrets.token_hex(20).upper()
        self.payments: dict[str, Payment] = {}
        self.refunds: dict[tuple[str, str], EmulatedRefund] = {}  # (gateway, key)
        self.deliveries: list[tuple[str, int | None]] = []  # notify url, status (None: failed)
        self._merchants: dict[str, tuple[str, rsa.RSAPublicKey, bytes]] = {}
        self._apps: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self.app = Starlette(
            routes=[
                Route(WECHAT_REFUNDS, self._wechat_apply, methods=["POST"]),
                Route(WECHAT_REFUNDS + "/{key}", self._wechat_query, methods=["GET"]),
                Route(ALIPAY_GATEWAY, self._alipay, methods=["POST"]),
            ],
            lifespan=self._lifespan,
        )

    def enroll_wechat_merchant(self, mchid: str = "1900000109") -> WeChatCredentials:
        key, serial = new_key(), secrets.token_hex(20).upper()
        api_v3_key = secrets.token_hex(16).encode()  # 32 ASCII characters
        with self._lock:
            self._merchants[mchid] = (serial, key.public_key(), api_v3_key)
        public = public_pem(self.platform_key.public_key())
        return WeChatCredentials(
            mchid, serial, private_pem(key), self.platform_serial, public, api_v3_key
        )

    def enroll_alipay_app(self, app_id: str = "2021000000000001") -> AlipayCredentials:
        key = new_key()
        with self._lock:
            self._apps[app_id] = key.public_key()
        return AlipayCredentials(app_id, private_pem(key), public_pem(self.alipay_key.public_key()))

    def seed_payment(
        self, out_trade_no: str, total_fen: int, *, received_account: str = "支付用户零钱"
    ) -> Payment:
        stamp = datetime.now(CHINA_TIME).strftime("%Y%m%d")
        payment = Payment(
            out_trade_no,
            total_fen,
            transaction_id=f"4200{secrets.randbelow(10**24):024d}",
            trade_no=f"{stamp}22001{secrets.randbelow(10**15):015d}",
            received_account=received_account,
        )
        with self._lock:
            self.payments[out_trade_no] = payment
        return payment

    def refunds_of(self, out_trade_no: str) -> list[EmulatedRefund]:
        with self._lock:
            return [r for r in self.refunds.values() if r.out_trade_no == out_trade_no]

    def refunded_fen(self, out_trade_no: str) -> int:
        return sum(refund.amount_fen for refund in self.refunds_of(out_trade_no))

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as http:
            self._http = http
            try:
                yield
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._http = None

    def _take_fault(self, name: str) -> bool:
        with self._lock:
            if getattr(self.faults, name) > 0:
                setattr(self.faults, name, getattr(self.faults, name) - 1)
                return True
            return False

    def _spent(self, out_trade_no: str) -> int:
        return sum(r.amount_fen for r in self.refunds.values() if r.out_trade_no == out_trade_no)

    def _record(self, refund: EmulatedRefund, limit: int) -> bool:
        """Store a new refund unless it would take the payment's refunds over `limit`."""
        if self._spent(refund.out_trade_no) + refund.amount_fen > limit:
            return False
        self.refunds[(refund.gateway, refund.key)] = refund
        return True

    # --- WeChat Pay APIv3 -------------------------------------------------------------

    def _wechat_response(self, status: int, payload: dict[str, Any]) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        signature = sign(self.platform_key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": self.platform_serial,
            "Request-ID": secrets.token_hex(16),
        }
        return Response(body, status, headers=headers, media_type="application/json")

    def _wechat_error(self, status: int, code: str, message: str) -> Response:
        return self._wechat_response(status, {"code": code, "message": message})

    def _wechat_caller(self, request: Request, body: bytes) -> str | None:
        """The mchid whose Authorization signature checks out over the raw path and body."""
        header = request.headers.get("authorization", "")
        scheme, _, rest = header.partition(" ")
        fields = dict(AUTH_FIELD.findall(rest))
        merchant = self._merchants.get(fields.get("mchid", ""))
        if scheme != "WECHATPAY2-SHA256-RSA2048" or not merchant:
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

    def _wechat_view(self, refund: EmulatedRefund) -> dict[str, Any]:
        payment = self.payments[refund.out_trade_no]
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

    def _wechat_apply_locked(self, mchid: str, body: dict[str, Any]) -> tuple[int, Any, bool]:
        """(status, payload or error, is_new) for an apply request."""
        key, amount = str(body.get("out_refund_no") or ""), body["amount"]
        reference = body.get("out_trade_no") or body.get("transaction_id")
        payment = next(
            (p for p in self.payments.values() if reference in (p.out_trade_no, p.transaction_id)),
            None,
        )
        if not key or not isinstance(amount.get("refund"), int) or not reference:
            return 400, ("PARAM_ERROR", "参数错误"), False
        existing = self.refunds.get(("wechatpay", key))
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
            str(body.get("notify_url") or self.default_notify_url),
        )
        if not self._record(refund, payment.total_fen):
            return 400, ("INVALID_REQUEST", "申请退款金额超过订单可退金额"), False  # unconfirmed
        return 200, refund, True

    async def _wechat_apply(self, request: Request) -> Response:
        if self._take_fault("fail_next"):
            return self._wechat_error(500, "SYSTEM_ERROR", "系统超时")
        raw = await request.body()
        with self._lock:
            mchid = self._wechat_caller(request, raw)
        if mchid is None:
            return self._wechat_error(401, "SIGN_ERROR", "签名错误")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("amount"), dict):
            return self._wechat_error(400, "PARAM_ERROR", "请求体不是JSON对象")
        with self._lock:
            status, outcome, is_new = self._wechat_apply_locked(mchid, body)
            view = self._wechat_view(outcome) if status == 200 else None
        if view is None:
            return self._wechat_error(status, *outcome)
        if is_new:
            await self._after_new_refund(outcome, mchid)
        return self._wechat_response(200, view)

    async def _after_new_refund(self, refund: EmulatedRefund, mchid: str) -> None:
        if self.faults.notify_before_response:
            await self._settle(refund, mchid, delay=0.0)  # the answer still says PROCESSING
        else:
            task = asyncio.create_task(self._settle(refund, mchid, delay=self.settle_delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._take_fault("hang_next"):
            await asyncio.sleep(self.faults.hang_seconds)  # the refund stands; the caller times out

    async def _wechat_query(self, request: Request) -> Response:
        if self._take_fault("fail_next"):
            return self._wechat_error(500, "SYSTEM_ERROR", "系统超时")
        with self._lock:
            if self._wechat_caller(request, b"") is None:
                return self._wechat_error(401, "SIGN_ERROR", "签名错误")
            refund = self.refunds.get(("wechatpay", request.path_params["key"]))
            view = self._wechat_view(refund) if refund else None
        if view is None:
            return self._wechat_error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self._wechat_response(200, view)

    async def _settle(self, refund: EmulatedRefund, mchid: str, *, delay: float) -> None:
        """PROCESSING -> SUCCESS after `delay`, then the encrypted REFUND.SUCCESS notify."""
        await asyncio.sleep(delay)
        with self._lock:
            settled = replace(refund, status="SUCCESS", success_at=datetime.now(UTC))
            self.refunds[("wechatpay", refund.key)] = settled
            body = self._notify_body(self._wechat_view(settled), mchid)
        for _ in range(2 if self.faults.duplicate_notify else 1):
            await self._deliver(settled.notify_url, body)

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

    async def _deliver(self, url: str, body: bytes) -> None:
        """One delivery, signed afresh like a real redelivery (same body and event id)."""
        if not url or self._http is None:
            return
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature": sign(
                self.platform_key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
            ),
        }
        try:
            status: int | None = (
                await self._http.post(url, content=body, headers=headers)
            ).status_code
        except httpx.HTTPError:
            status = None
        with self._lock:
            self.deliveries.append((url, status))

    # --- Alipay -------------------------------------------------------------------------

    def _alipay_response(self, method: str, node: dict[str, Any]) -> Response:
        name = method.replace(".", "_") + "_response" if method else "error_response"
        node_text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        signature = sign(self.alipay_key, node_text.encode())
        text = f'{{"{name}":{node_text},"sign":"{signature}"}}'
        return Response(text.encode(), media_type="application/json;charset=utf-8")

    def _alipay_caller_ok(self, form: dict[str, str]) -> bool:
        key = self._apps.get(form.get("app_id", ""))
        content = "&".join(f"{k}={v}" for k, v in sorted(form.items()) if k != "sign" and v != "")
        try:
            sent = datetime.strptime(form.get("timestamp", ""), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return False
        age = abs(time.time() - sent.replace(tzinfo=CHINA_TIME).timestamp())
        fixed = form.get("sign_type") == "RSA2" and form.get("charset") == "utf-8"
        if key is None or not fixed or age > SIGNATURE_WINDOW:
            return False
        return is_signed(key, content.encode(), form.get("sign", ""))

    async def _alipay(self, request: Request) -> Response:
        if self._take_fault("fail_next"):
            return Response("Internal Server Error", 500)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        method = form.get("method", "")
        with self._lock:
            if not self._alipay_caller_ok(form):
                return self._alipay_response(
                    method, _failure("40002", "isv.invalid-signature", "验签出错")
                )
            try:
                biz = json.loads(form.get("biz_content", ""))
            except ValueError:
                biz = None
            if not isinstance(biz, dict) or method not in ALIPAY_METHODS:
                return self._alipay_response(
                    method, _failure("40002", "isv.invalid-parameter", "参数无效")
                )
            node, is_new = ALIPAY_METHODS[method](self, biz)
        if is_new and self._take_fault("hang_next"):
            await asyncio.sleep(self.faults.hang_seconds)
        return self._alipay_response(method, node)

    def _alipay_refund(self, biz: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        payment = self._alipay_payment(biz)
        amount = re.fullmatch(r"(\d+)\.(\d{2})", str(biz.get("refund_amount", "")))
        if payment is None:
            return _failure("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在"), False
        if amount is None:
            return _failure("40002", "isv.invalid-parameter", "refund_amount 格式错误"), False
        fen = int(amount[1]) * 100 + int(amount[2])
        key = str(biz.get("out_request_no") or payment.out_trade_no)  # the default key
        if not biz.get("out_request_no") and fen != payment.total_fen:
            return _failure(
                "40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额不等于交易金额"
            ), False
        existing = self.refunds.get(("alipay", key))
        if existing:
            if existing.amount_fen != fen:  # sub code for a changed repeat: unconfirmed
                return _failure("40004", "ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求"), False
            return self._alipay_refund_node(payment, existing, replay=True), False
        now = datetime.now(UTC)
        refund = EmulatedRefund(
            "alipay", key, payment.out_trade_no, fen, "", "REFUND_SUCCESS", now, success_at=now
        )
        if not self._record(refund, payment.total_fen):
            return _failure("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额超限"), False
        return self._alipay_refund_node(payment, refund, replay=False), True

    def _alipay_refund_node(
        self, payment: Payment, refund: EmulatedRefund, *, replay: bool
    ) -> dict[str, Any]:
        """A replayed out_request_no answers the original refund with fund_change N."""
        assert refund.success_at is not None
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": payment.trade_no,
            "out_trade_no": payment.out_trade_no,
            "buyer_logon_id": "158****1562",
            "buyer_user_id": "2088102177846880",
            "fund_change": "N" if replay else "Y",
            "refund_fee": yuan(self._spent(payment.out_trade_no)),  # the running total
            "gmt_refund_pay": china_time(refund.success_at),
            "send_back_fee": yuan(0 if replay else refund.amount_fen),  # unconfirmed on a replay
        }

    def _alipay_query(self, biz: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        payment = self._alipay_payment(biz)
        if payment is None:
            return _failure("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在"), False
        refund = self.refunds.get(("alipay", str(biz.get("out_request_no") or "")))
        node = {
            "code": "10000",
            "msg": "Success",
            "trade_no": payment.trade_no,
            "out_trade_no": payment.out_trade_no,
        }
        if refund and refund.out_trade_no == payment.out_trade_no and refund.success_at:
            # With no refund, refund_status is simply absent.
            node.update(
                out_request_no=refund.key,
                total_amount=yuan(payment.total_fen),
                refund_amount=yuan(refund.amount_fen),
                refund_status="REFUND_SUCCESS",
                gmt_refund_pay=china_time(refund.success_at),
            )
        return node, False

    def _alipay_payment(self, biz: dict[str, Any]) -> Payment | None:
        wanted = biz.get("out_trade_no") or biz.get("trade_no")
        return next(
            (p for p in self.payments.values() if wanted in (p.out_trade_no, p.trade_no)), None
        )


def _failure(code: str, sub_code: str, sub_msg: str) -> dict[str, Any]:
    # "Business Failed" is consistent across sources; "Invalid Arguments" is unconfirmed.
    message = "Business Failed" if code == "40004" else "Invalid Arguments"
    return {"code": code, "msg": message, "sub_code": sub_code, "sub_msg": sub_msg}


ALIPAY_METHODS = {
    "alipay.trade.refund": PaymentsEmulator._alipay_refund,
    "alipay.trade.fastpay.refund.query": PaymentsEmulator._alipay_query,
}


def main() -> None:
    """`python -m emulators.payments --port 8770`: serve with a demo payment; print credentials."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8770)
    parser.add_argument("--notify-url", default="")
    args = parser.parse_args()
    emulator = PaymentsEmulator(default_notify_url=args.notify_url)
    emulator.seed_payment("DEMO-PAY-1", 12_800)
    credentials = [emulator.enroll_wechat_merchant(), emulator.enroll_alipay_app()]
    print(json.dumps([vars(c) for c in credentials], indent=2, default=bytes.decode))
    uvicorn.run(emulator.app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
