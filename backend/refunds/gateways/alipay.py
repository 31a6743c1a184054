"""Alipay refunds: alipay.trade.refund and alipay.trade.fastpay.refund.query, RSA2-signed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from backend.clock import from_shanghai_wall_clock, to_shanghai_text
from backend.refunds.gateways.base import (
    DEFAULT_TIMEOUT,
    GatewayError,
    GatewayRefund,
    GatewayRejected,
    GatewayUnavailable,
    MalformedPayload,
    RefundExceedsPayment,
    RefundNotFound,
    RefundStatus,
    ResponseNotTrusted,
    is_retryable_status,
    sign_sha256_rsa,
    verify_sha256_rsa,
)

GATEWAY = "alipay"
# The gateway, the signing and the answers: docs/protocols.md, "Alipay / Gateway and signature".
PRODUCTION_URL = "https://openapi.alipay.com/gateway.do"
REFUND_METHOD = "alipay.trade.refund"
REFUND_QUERY_METHOD = "alipay.trade.fastpay.refund.query"
SUCCESS_CODE = "10000"
REFUND_SUCCESS = "REFUND_SUCCESS"  # the only refund_status value the query documents

# 20000 and the SYSTEM_ERROR sub codes say "call again with the same parameters";
# everything else is a refusal. All but the first two terminal codes are unconfirmed
# (recalled from Alipay's error pages): docs/protocols.md, "Alipay / Alipay error codes".
RETRYABLE_CODES = frozenset({"20000"})  # Service Currently Unavailable
RETRYABLE_SUB_CODES = frozenset(
    {
        "ACQ.SYSTEM_ERROR",  # 系统错误: 请使用相同的参数再次调用
        "aop.ACQ.SYSTEM_ERROR",  # the same, as some gateways prefix it
        "isp.unknow-error",  # sic, sent with 20000
    }
)
TERMINAL_SUB_CODES: Mapping[str, str] = MappingProxyType(
    {
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": "partial refund without out_request_no",
        "ACQ.REASON_TRADE_REFUND_FEE_ERR": "refunds would exceed the payment",
        "ACQ.TRADE_NOT_EXIST": "no such trade",
        "ACQ.TRADE_STATUS_ERROR": "trade not in a refundable state",
        "ACQ.TRADE_HAS_FINISHED": "trade finished, no more refunds",
        "ACQ.SELLER_BALANCE_NOT_ENOUGH": "merchant balance too low: a person tops up",
        "ACQ.REFUND_FEE_ERROR": "refund amount invalid",
        "ACQ.DISCORDANT_REPEAT_REQUEST": "same out_request_no, different parameters",
        "isv.invalid-signature": "our key or sign content is wrong",
    }
)
EXCEEDS_SUB_CODES = frozenset({"ACQ.REASON_TRADE_REFUND_FEE_ERR"})
_YUAN = re.compile(r"(\d+)(?:\.(\d{1,2}))?")


def format_yuan(fen: int) -> str:
    """Integer fen as Alipay's yuan string with two decimals ("12.34"), never via float."""
    if fen < 0:
        raise ValueError("amounts are not negative")
    return f"{fen // 100}.{fen % 100:02d}"


def parse_yuan(text: Any) -> int:
    """Alipay's yuan string ("12.34", "12.3", "12") as integer fen, never via float."""
    match = _YUAN.fullmatch(str(text).strip())
    if not match:
        raise MalformedPayload(f"bad yuan amount {text!r}")
    return int(match[1]) * 100 + int((match[2] or "0").ljust(2, "0"))


def format_alipay_time(moment: datetime) -> str:
    """ "yyyy-MM-dd HH:mm:ss", in Beijing time, which is what Alipay reads it as."""
    return to_shanghai_text(moment)


def parse_alipay_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        local = datetime.strptime(str(text).strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError as error:
        raise MalformedPayload(f"bad Alipay time {text!r}") from error
    return from_shanghai_wall_clock(local)


def build_sign_content(params: Mapping[str, str], *, exclude: tuple[str, ...] = ("sign",)) -> str:
    """Sorted "k=v&k=v" of the non-empty params; requests exclude `sign` only."""
    pairs = sorted((k, v) for k, v in params.items() if k not in exclude and v != "")
    return "&".join(f"{k}={v}" for k, v in pairs)


def build_request(
    *,
    app_id: str,
    method: str,
    biz_content: Mapping[str, Any],
    private_key: rsa.RSAPrivateKey,
    timestamp: datetime,
) -> dict[str, str]:
    """The signed gateway form: common parameters, biz_content as JSON, RSA2 `sign`."""
    params = {
        "app_id": app_id,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": format_alipay_time(timestamp),
        "version": "1.0",
        "biz_content": json.dumps(biz_content, ensure_ascii=False, separators=(",", ":")),
    }
    params["sign"] = sign_sha256_rsa(private_key, build_sign_content(params).encode("utf-8"))
    return params


def build_refund_biz_content(
    *,
    out_request_no: str,
    amount_fen: int,
    reason: str,
    out_trade_no: str | None = None,
    trade_no: str | None = None,
) -> dict[str, str]:
    """biz_content of alipay.trade.refund; out_request_no always sent, so partials work."""
    if (out_trade_no is None) == (trade_no is None):
        raise ValueError("give exactly one of out_trade_no and trade_no")
    if not out_request_no or amount_fen <= 0:
        raise ValueError("a refund needs an out_request_no and a positive amount")
    biz = {"out_trade_no": out_trade_no} if out_trade_no else {"trade_no": str(trade_no)}
    biz["refund_amount"] = format_yuan(amount_fen)
    biz["out_request_no"] = out_request_no
    if reason:
        biz["refund_reason"] = reason
    return {k: str(v) for k, v in biz.items()}


def build_refund_query_biz_content(*, out_trade_no: str, out_request_no: str) -> dict[str, Any]:
    """biz_content of the refund query, asking for the refund time too."""
    return {
        "out_trade_no": out_trade_no,
        "out_request_no": out_request_no,
        "query_options": ["gmt_refund_pay"],
    }


def split_top_level(text: str) -> dict[str, str]:
    """Each top-level member of a JSON object as the exact text it was sent as.

    Alipay signs the raw characters of `<method>_response`, so re-serializing the
    parsed object (key order, spacing, escapes) would break verification.
    """
    decoder = json.JSONDecoder()
    members: dict[str, str] = {}
    index = _skip_space(text, 0)
    try:
        _expect(text, index, "{")
        index = _skip_space(text, index + 1)
        while text[index] != "}":
            key, index = decoder.raw_decode(text, index)
            index = _skip_space(text, index)
            _expect(text, index, ":")
            start = _skip_space(text, index + 1)
            _, end = decoder.raw_decode(text, start)
            members[str(key)] = text[start:end]
            index = _skip_space(text, end)
            if text[index] == ",":
                index = _skip_space(text, index + 1)
            elif text[index] != "}":
                raise ValueError(f"expected ',' or '}}' at {index}")
    except (IndexError, ValueError) as error:
        raise MalformedPayload(f"Alipay answer is not a JSON object: {error}") from error
    return members


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _expect(text: str, index: int, char: str) -> None:
    if text[index] != char:
        raise ValueError(f"expected {char!r} at {index}")


def classify_error(code: str, sub_code: str | None, message: str) -> GatewayError:
    """The exception for an answer whose code is not 10000."""
    if code in RETRYABLE_CODES or sub_code in RETRYABLE_SUB_CODES:
        return GatewayUnavailable(GATEWAY, message, code=sub_code or code)
    if sub_code in EXCEEDS_SUB_CODES:
        return RefundExceedsPayment(GATEWAY, message, code=sub_code)
    return GatewayRejected(GATEWAY, message, code=sub_code or code)


def read_response(text: str, method: str, alipay_public_key: rsa.RSAPublicKey) -> Mapping[str, Any]:
    """The verified `<method>_response` object of a 10000 answer; raises for anything else."""
    members = split_top_level(text)
    name = method.replace(".", "_") + "_response"
    raw = members.get(name) or members.get("error_response")
    if raw is None:
        raise MalformedPayload(f"Alipay answer has no {name}")
    node = json.loads(raw)
    if not isinstance(node, dict):
        raise MalformedPayload(f"{name} is not an object")
    signature = json.loads(members["sign"]) if "sign" in members else ""
    if not isinstance(signature, str):
        raise MalformedPayload("sign is not a string")
    verified = bool(signature) and verify_sha256_rsa(
        alipay_public_key, raw.encode("utf-8"), signature
    )
    code = str(node.get("code") or "")
    # Some gateway-level errors come unsigned (unconfirmed). An unverified refusal is taken
    # (it only stops work for a person to look at); an unverified success never is.
    if not verified and (code == SUCCESS_CODE or signature):
        raise ResponseNotTrusted(GATEWAY, f"{name} signature did not verify")
    if code != SUCCESS_CODE:
        message = f"{node.get('msg', '')} {node.get('sub_msg', '')}".strip()
        raise classify_error(code, str(node.get("sub_code") or "") or None, message)
    return node


def parse_refund_response(
    node: Mapping[str, Any], *, out_request_no: str, amount_fen: int
) -> GatewayRefund:
    """alipay_trade_refund_response as a GatewayRefund.

    fund_change "Y" means this call moved the money: SUCCESS. "N" is what a repeated
    out_request_no returns (the original refund, replayed), and also what a refund whose
    money has not moved yet returns: it is NOT a failure, and not proof of success
    either, so it is PROCESSING until the query says REFUND_SUCCESS (how to tell the two
    apart is unconfirmed: docs/protocols.md, "Alipay / Refund").
    The answer carries no amount for this refund (refund_fee is the trade's running
    total), so amount_fen is the amount we asked for.
    """
    fund_change = str(node.get("fund_change") or "")
    moved = fund_change == "Y"
    return GatewayRefund(
        gateway=GATEWAY,
        out_refund_no=out_request_no,
        status=RefundStatus.SUCCESS if moved else RefundStatus.PROCESSING,
        raw_status=f"fund_change={fund_change or '-'}",
        amount_fen=amount_fen,
        success_time=parse_alipay_time(node.get("gmt_refund_pay")) if moved else None,
        payment_reference=str(node.get("out_trade_no") or "") or None,
        gateway_payment_id=str(node.get("trade_no") or "") or None,
        refunded_total_fen=parse_yuan(node["refund_fee"]) if node.get("refund_fee") else None,
        funds_moved=moved,
    )


def parse_refund_query_response(node: Mapping[str, Any], *, out_request_no: str) -> GatewayRefund:
    """alipay_trade_fastpay_refund_query_response; no refund_status = not received or failed.

    Both readings of that absence lead to the same safe move: send the refund again with
    the same out_request_no. Alipay asks to query no sooner than 10 s after refunding.
    """
    raw_status = str(node.get("refund_status") or "")
    if not raw_status:
        raise RefundNotFound(GATEWAY, "no refund_status: not received or failed")
    if not node.get("refund_amount"):
        raise MalformedPayload("refund query answer without refund_amount")
    success = raw_status == REFUND_SUCCESS
    return GatewayRefund(
        gateway=GATEWAY,
        out_refund_no=str(node.get("out_request_no") or out_request_no),
        status=RefundStatus.SUCCESS if success else RefundStatus.UNKNOWN,
        raw_status=raw_status,
        amount_fen=parse_yuan(node["refund_amount"]),
        success_time=parse_alipay_time(node.get("gmt_refund_pay")) if success else None,
        payment_reference=str(node.get("out_trade_no") or "") or None,
        gateway_payment_id=str(node.get("trade_no") or "") or None,
    )


def _now() -> datetime:
    return datetime.now(UTC)


class AlipayClient:
    """The HTTP side of the adapter; every answer goes through the pure functions above."""

    gateway = GATEWAY

    def __init__(
        self,
        http: httpx.Client,
        *,
        app_id: str,
        private_key: rsa.RSAPrivateKey,
        alipay_public_key: rsa.RSAPublicKey,
        gateway_url: str = PRODUCTION_URL,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.http = http
        self.app_id, self.private_key = app_id, private_key
        self.alipay_public_key = alipay_public_key
        self.gateway_url = gateway_url
        self.timeout = timeout
        self._clock = clock

    def refund(
        self,
        payment_reference: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
    ) -> GatewayRefund:
        """alipay.trade.refund of out_trade_no `payment_reference`, keyed by out_request_no."""
        if amount_fen > total_fen:
            raise ValueError("refund amount is more than the payment")
        biz = build_refund_biz_content(
            out_request_no=out_refund_no,
            amount_fen=amount_fen,
            reason=reason,
            out_trade_no=payment_reference,
        )
        node = self._call(REFUND_METHOD, biz)
        try:
            refund = parse_refund_response(
                node, out_request_no=out_refund_no, amount_fen=amount_fen
            )
        except MalformedPayload as error:
            raise ResponseNotTrusted(GATEWAY, str(error)) from error
        return self._checked(refund, payment_reference)

    def query(self, out_refund_no: str, payment_reference: str) -> GatewayRefund:
        """alipay.trade.fastpay.refund.query; RefundNotFound when no refund_status came back."""
        biz = build_refund_query_biz_content(
            out_trade_no=payment_reference, out_request_no=out_refund_no
        )
        node = self._call(REFUND_QUERY_METHOD, biz)
        try:
            refund = parse_refund_query_response(node, out_request_no=out_refund_no)
        except MalformedPayload as error:
            raise ResponseNotTrusted(GATEWAY, str(error)) from error
        return self._checked(refund, payment_reference)

    def _checked(self, refund: GatewayRefund, payment_reference: str) -> GatewayRefund:
        if refund.payment_reference not in (None, payment_reference):
            raise ResponseNotTrusted(GATEWAY, f"answer is about {refund.payment_reference!r}")
        return refund

    def _call(self, method: str, biz: Mapping[str, Any]) -> Mapping[str, Any]:
        form = build_request(
            app_id=self.app_id,
            method=method,
            biz_content=biz,
            private_key=self.private_key,
            timestamp=self._clock(),
        )
        try:
            response = self.http.post(self.gateway_url, data=form, timeout=self.timeout)
        except httpx.TransportError as error:
            # Includes timeouts: the refund may have been made; retry with the same key.
            raise GatewayUnavailable(GATEWAY, f"transport error: {error!r}") from error
        if response.status_code != 200:
            status, text = response.status_code, response.text[:200]
            if is_retryable_status(status):
                raise GatewayUnavailable(GATEWAY, text, status_code=status)
            raise GatewayRejected(GATEWAY, text, status_code=status)
        try:
            return read_response(response.text, method, self.alipay_public_key)
        except MalformedPayload as error:
            raise ResponseNotTrusted(GATEWAY, str(error)) from error
