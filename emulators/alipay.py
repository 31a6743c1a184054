"""A loopback Alipay open-platform gateway: refunds and their query, RSA2 both ways, notifies."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulators.ledger import (
    CHINA_TIME,
    SIGNATURE_WINDOW,
    EmulatedRefund,
    Ledger,
    Payment,
    china_time,
    is_signed,
    new_key,
    private_pem,
    public_pem,
    sign,
    yuan,
)

GATEWAY_PATH = "/gateway.do"
FORM = "application/x-www-form-urlencoded"
BUYER = {"buyer_id": "2088102177846880", "buyer_logon_id": "158****1562"}
SELLER_ID = "2088101106499364"


@dataclass(frozen=True)
class AlipayCredentials:
    """What an AlipayClient needs to talk to this emulator."""

    app_id: str
    private_key_pem: str
    alipay_public_key_pem: str


def sign_content(params: dict[str, str], exclude: tuple[str, ...]) -> bytes:
    """Sorted "k=v&k=v" of the non-empty parameters, as both directions sign them."""
    pairs = sorted((k, v) for k, v in params.items() if k not in exclude and v != "")
    return "&".join(f"{k}={v}" for k, v in pairs).encode()


def _failure(code: str, sub_code: str, sub_msg: str) -> dict[str, Any]:
    # "Business Failed" is consistent across sources; "Invalid Arguments" is unconfirmed.
    message = "Business Failed" if code == "40004" else "Invalid Arguments"
    return {"code": code, "msg": message, "sub_code": sub_code, "sub_msg": sub_msg}


class AlipayEmulator:
    """alipay.trade.refund settles at once (fund_change Y) and then notifies the payment's
    notify_url; alipay.trade.fastpay.refund.query reports it."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.alipay_key = new_key()
        self._apps: dict[str, rsa.RSAPublicKey] = {}
        self.routes = [Route(GATEWAY_PATH, self._gateway, methods=["GET", "POST"])]
        self.methods = {
            "alipay.trade.refund": self._refund,
            "alipay.trade.fastpay.refund.query": self._query,
        }

    def enroll(self, app_id: str) -> AlipayCredentials:
        key = new_key()
        with self.ledger.lock:
            self._apps[app_id] = key.public_key()
        return AlipayCredentials(app_id, private_pem(key), public_pem(self.alipay_key.public_key()))

    def _response(self, method: str, node: dict[str, Any]) -> Response:
        name = method.replace(".", "_") + "_response" if method else "error_response"
        node_text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        signature = sign(self.alipay_key, node_text.encode())
        text = f'{{"{name}":{node_text},"sign":"{signature}"}}'
        return Response(text.encode(), media_type="application/json;charset=utf-8")

    async def _params(self, request: Request) -> dict[str, str]:
        """Every parameter, wherever it came: the gateway takes a GET with all of them in the
        query (python-alipay-sdk), a POST form with all in the body, or common parameters in
        the query and biz_content in the body (alipay-sdk-python). One signature covers all."""
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        if request.method == "POST" and request.headers.get("content-type", "").startswith(FORM):
            body = (await request.body()).decode("utf-8", errors="replace")
            params.update(parse_qsl(body, keep_blank_values=True))
        return params

    def _caller_ok(self, params: dict[str, str]) -> bool:
        key = self._apps.get(params.get("app_id", ""))
        try:
            sent = datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return False
        age = abs(time.time() - sent.replace(tzinfo=CHINA_TIME).timestamp())
        charset = params.get("charset", "utf-8").lower()
        fixed = params.get("sign_type") == "RSA2" and charset == "utf-8"
        if key is None or not fixed or age > SIGNATURE_WINDOW:
            return False
        return is_signed(key, sign_content(params, ("sign",)), params.get("sign", ""))

    async def _gateway(self, request: Request) -> Response:
        if self.ledger.take_fault("fail_next"):
            return Response("Internal Server Error", 500)
        params = await self._params(request)
        method = params.get("method", "")
        with self.ledger.lock:
            if not self._caller_ok(params):
                return self._response(
                    method, _failure("40002", "isv.invalid-signature", "验签出错")
                )
            try:
                biz = json.loads(params.get("biz_content", ""))
            except ValueError:
                biz = None
            if not isinstance(biz, dict) or method not in self.methods:
                return self._response(
                    method, _failure("40002", "isv.invalid-parameter", "参数无效")
                )
            node, new_refund = self.methods[method](biz)
        if new_refund is not None:
            await self._notify_later(new_refund, params["app_id"])
            if self.ledger.take_fault("hang_next"):
                await asyncio.sleep(self.ledger.faults.hang_seconds)
        return self._response(method, node)

    def _refund(self, biz: dict[str, Any]) -> tuple[dict[str, Any], EmulatedRefund | None]:
        payment = self.ledger.find_payment(
            biz.get("out_trade_no") or biz.get("trade_no"), "trade_no"
        )
        amount = re.fullmatch(r"(\d+)\.(\d{2})", str(biz.get("refund_amount", "")))
        if payment is None:
            return _failure("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在"), None
        if amount is None:
            return _failure("40002", "isv.invalid-parameter", "refund_amount 格式错误"), None
        fen = int(amount[1]) * 100 + int(amount[2])
        key = str(biz.get("out_request_no") or payment.out_trade_no)  # the default key
        if not biz.get("out_request_no") and fen != payment.total_fen:
            return _failure(
                "40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额不等于交易金额"
            ), None
        existing = self.ledger.refunds.get(("alipay", key))
        if existing:
            if existing.amount_fen != fen:  # sub code for a changed repeat: unconfirmed
                return _failure("40004", "ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求"), None
            return self._refund_node(payment, existing, replay=True), None
        now = datetime.now(UTC)
        refund = EmulatedRefund(
            "alipay", key, payment.out_trade_no, fen, "", "REFUND_SUCCESS", now, success_at=now
        )
        if not self.ledger.record(refund, payment.total_fen):
            return _failure("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额超限"), None
        return self._refund_node(payment, refund, replay=False), refund

    def _refund_node(
        self, payment: Payment, refund: EmulatedRefund, *, replay: bool
    ) -> dict[str, Any]:
        """A replayed out_request_no answers the original refund with fund_change N."""
        assert refund.success_at is not None
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": payment.trade_no,
            "out_trade_no": payment.out_trade_no,
            **BUYER,
            "fund_change": "N" if replay else "Y",
            "refund_fee": yuan(self.ledger.spent(payment.out_trade_no)),  # the running total
            "gmt_refund_pay": china_time(refund.success_at),
            "send_back_fee": yuan(0 if replay else refund.amount_fen),  # unconfirmed on a replay
        }

    def _query(self, biz: dict[str, Any]) -> tuple[dict[str, Any], None]:
        payment = self.ledger.find_payment(
            biz.get("out_trade_no") or biz.get("trade_no"), "trade_no"
        )
        if payment is None:
            return _failure("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在"), None
        refund = self.ledger.refunds.get(("alipay", str(biz.get("out_request_no") or "")))
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
        return node, None

    # --- the asynchronous notify ------------------------------------------------------

    async def _notify_later(self, refund: EmulatedRefund, app_id: str) -> None:
        with self.ledger.lock:
            payment = self.ledger.payments[refund.out_trade_no]
            form = self.build_refund_notify(payment, refund, app_id)
        if self.ledger.faults.notify_before_response:
            await self._deliver(payment.notify_url, form)
        else:
            self.ledger.later(self._deliver(payment.notify_url, form, self.ledger.settle_delay))

    def build_refund_notify(
        self, payment: Payment, refund: EmulatedRefund, app_id: str
    ) -> dict[str, str]:
        """The trade_status_sync notify a refund sets off, signed with Alipay's key.

        Alipay has no notify of its own for alipay.trade.refund: a refund changes the
        trade, and the trade's notify goes to the notify_url given when it was paid. So a
        payment made without one, or with a notify_url that is not ours, never tells us;
        nor does a refund made in the merchant console announce which of our requests it
        was. out_biz_no names the refund request, refund_fee is the trade's running total.
        Fields as SDKs and merchants' code carry Alipay's 异步通知参数 page (consistent;
        docs/protocols.md, "Alipay / Async notify").
        """
        assert refund.success_at is not None
        spent = self.ledger.spent(payment.out_trade_no)
        closed = spent >= payment.total_fen  # a fully refunded trade is closed
        params = {
            "notify_time": china_time(datetime.now(UTC)),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(17),
            "app_id": app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": payment.trade_no,
            "out_trade_no": payment.out_trade_no,
            "out_biz_no": refund.key,
            **BUYER,
            "seller_id": SELLER_ID,
            "trade_status": "TRADE_CLOSED" if closed else "TRADE_SUCCESS",
            "total_amount": yuan(payment.total_fen),
            "receipt_amount": yuan(payment.total_fen),
            "buyer_pay_amount": yuan(payment.total_fen),
            "refund_fee": yuan(spent),
            "subject": f"订单{payment.out_trade_no}",
            "gmt_create": china_time(payment.paid_at),
            "gmt_payment": china_time(payment.paid_at),
            "gmt_refund": refund.success_at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S.%f")[
                :-3
            ],
        }
        if closed:
            params["gmt_close"] = china_time(refund.success_at)
        # The notify signs everything but sign and sign_type (requests keep sign_type).
        params["sign"] = sign(self.alipay_key, sign_content(params, ("sign", "sign_type")))
        return params

    async def _deliver(self, url: str, form: dict[str, str], delay: float = 0.0) -> None:
        """Alipay redelivers until it reads `success` (unconfirmed how often);
        the emulator sends once, or twice with the duplicate_notify fault."""
        await asyncio.sleep(delay)
        content = urlencode(form).encode()
        headers = {"Content-Type": f"{FORM}; charset=utf-8"}
        for _ in range(2 if self.ledger.faults.duplicate_notify else 1):
            await self.ledger.deliver(url, content, headers)
