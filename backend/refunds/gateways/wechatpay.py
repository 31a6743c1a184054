"""WeChat Pay APIv3 refunds: apply, query, signed requests and answers, encrypted notifies."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.refunds.gateways.base import (
    DEFAULT_TIMEOUT,
    GatewayError,
    GatewayRefund,
    GatewayRejected,
    GatewayUnavailable,
    MalformedPayload,
    NotifyRejected,
    RefundNotFound,
    RefundStatus,
    ResponseNotTrusted,
    is_retryable_status,
    sign_sha256_rsa,
    verify_sha256_rsa,
)

GATEWAY = "wechatpay"
PRODUCTION_URL = "https://api.mch.weixin.qq.com"  # backup domain api2.mch.weixin.qq.com
REFUNDS_PATH = "/v3/refund/domestic/refunds"
# Both the Authorization scheme of our requests and the Wechatpay-Signature-Type of
# WeChat's answers and notifies.
AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
# ≤64 characters of [0-9A-Za-z_-|*@] (docs/protocols.md, "WeChat Pay / Refund apply"):
# checked before sending, so a bad key fails here rather than as a gateway PARAM_ERROR
# after the key was already stored.
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
REASON_MAX_BYTES = 80
# WeChat documents no replay window (unconfirmed); its own SDKs reject notifies older than
# 5 minutes: docs/protocols.md, "WeChat Pay / Answer and notify signature".
NOTIFY_TOLERANCE_SECONDS = 300
# Any 2xx is taken as received, so the ack body is a courtesy; a 4xx/5xx asks for
# redelivery (docs/protocols.md, "WeChat Pay / Refund notify").
NOTIFY_REPLY_OK: dict[str, str] = {"code": "SUCCESS", "message": "成功"}
NOTIFY_REPLY_FAIL: dict[str, str] = {"code": "FAIL", "message": "失败"}

# docs/protocols.md, "WeChat Pay / Refund query": the notify resource calls it
# refund_status, the apply/query answer calls it status.
STATUSES: Mapping[str, RefundStatus] = MappingProxyType(
    {
        "SUCCESS": RefundStatus.SUCCESS,
        "CLOSED": RefundStatus.CLOSED,
        "PROCESSING": RefundStatus.PROCESSING,
        "ABNORMAL": RefundStatus.ABNORMAL,
    }
)

# Every APIv3 refund error code below is unconfirmed (recalled from the 申请退款 page's
# error table; docs/protocols.md, "WeChat Pay / WeChat Pay error codes"), so the HTTP
# status decides first and these only refine it. Codes that say "try again" are retried
# even under a 4xx status.
RETRYABLE_CODES = frozenset(
    {
        "SYSTEM_ERROR",  # 500 系统超时: retry with the same out_refund_no
        "FREQUENCY_LIMITED",  # 429 频率限制 (also: refunds of one order ≥1 min apart)
    }
)
TERMINAL_CODES: Mapping[str, str] = MappingProxyType(
    {
        "PARAM_ERROR": "400 参数错误",
        "INVALID_REQUEST": "400 不符合业务规则 (e.g. more than the refundable amount)",
        "MCH_NOT_EXISTS": "400 商户号不存在",
        "SIGN_ERROR": "401 签名错误: our key or serial is wrong",
        "NO_AUTH": "403 没有退款权限",
        "NOT_ENOUGH": "403 余额不足: a person tops up, then may retry with the same key",
        "USER_ACCOUNT_ABNORMAL": "403 用户账户异常: refund by another channel",
        "RESOURCE_NOT_EXISTS": "404 退款单不存在",
    }
)


@dataclass(frozen=True)
class RefundNotice:
    """A verified, decrypted refund notify. `event_id` is the dedupe key for redeliveries."""

    event_id: str
    event_type: str  # REFUND.SUCCESS | REFUND.ABNORMAL | REFUND.CLOSED
    summary: str
    refund: GatewayRefund


def build_refund_request(
    *,
    out_refund_no: str,
    amount_fen: int,
    total_fen: int,
    reason: str,
    notify_url: str,
    out_trade_no: str | None = None,
    transaction_id: str | None = None,
) -> dict[str, Any]:
    """The JSON body of POST /v3/refund/domestic/refunds (amounts in fen, as WeChat wants)."""
    if (out_trade_no is None) == (transaction_id is None):
        raise ValueError("give exactly one of out_trade_no and transaction_id")
    if not OUT_REFUND_NO.fullmatch(out_refund_no):
        raise ValueError(f"out_refund_no {out_refund_no!r} breaks WeChat's format")
    if not 0 < amount_fen <= total_fen:
        raise ValueError("refund amount must be positive and at most the order total")
    body: dict[str, Any] = (
        {"out_trade_no": out_trade_no} if out_trade_no else {"transaction_id": transaction_id}
    )
    body["out_refund_no"] = out_refund_no
    if reason:
        body["reason"] = truncate_utf8(reason, REASON_MAX_BYTES)
    body["notify_url"] = notify_url
    body["amount"] = {"refund": amount_fen, "total": total_fen, "currency": "CNY"}
    return body


def truncate_utf8(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8 without splitting a character.

    The reason is only shown to the customer, so shortening beats failing the refund.
    """
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def encode_json(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes that are both signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_query_path(out_refund_no: str) -> str:
    """GET path of the refund query; `|` is percent-encoded, and signed as sent."""
    if not OUT_REFUND_NO.fullmatch(out_refund_no):
        raise ValueError(f"out_refund_no {out_refund_no!r} breaks WeChat's format")
    return f"{REFUNDS_PATH}/{quote(out_refund_no, safe='-_*@')}"


def build_signature_message(
    method: str, url: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    """ "METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n", URL being the path plus query.

    Unconfirmed in our sources: docs/protocols.md, "WeChat Pay / Request signature".
    """
    head = f"{method.upper()}\n{url}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def build_authorization(
    *,
    method: str,
    url: str,
    body: bytes,
    mchid: str,
    serial_no: str,
    private_key: rsa.RSAPrivateKey,
    timestamp: int,
    nonce: str,
) -> str:
    """The Authorization header value for one request, signed with the merchant key."""
    message = build_signature_message(method, url, str(timestamp), nonce, body)
    signature = sign_sha256_rsa(private_key, message)
    return (
        f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def verify_response_signature(
    headers: Mapping[str, str],
    body: bytes,
    platform_keys: Mapping[str, rsa.RSAPublicKey],
) -> bool:
    """Wechatpay-* headers: SHA256withRSA over "ts\\nnonce\\nbody\\n" by the serial's key.

    Wechatpay-Signature-Type names the scheme; it is checked when present. A message
    signed under any other scheme (WeChat Pay also offers SM2, 国密) is refused rather
    than checked as if it were RSA. docs/protocols.md, "WeChat Pay / Answer and notify
    signature".
    """
    signature_type = _header(headers, "Wechatpay-Signature-Type")
    if signature_type and signature_type != AUTH_SCHEME:
        return False
    timestamp = _header(headers, "Wechatpay-Timestamp")
    nonce = _header(headers, "Wechatpay-Nonce")
    signature = _header(headers, "Wechatpay-Signature")
    # An unknown serial means WeChat rotated its platform key (or 公钥ID): refresh the keys.
    key = platform_keys.get(_header(headers, "Wechatpay-Serial"))
    if not (timestamp and nonce and signature and key):
        return False
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return verify_sha256_rsa(key, message, signature)


def verify_notify_signature(
    headers: Mapping[str, str],
    body: bytes,
    platform_keys: Mapping[str, rsa.RSAPublicKey],
    *,
    now: float,
    tolerance: int = NOTIFY_TOLERANCE_SECONDS,
) -> bool:
    """A notify's signature is good and its timestamp within `tolerance` s of now (replays)."""
    try:
        sent_at = int(_header(headers, "Wechatpay-Timestamp"))
    except ValueError:
        return False
    if abs(now - sent_at) > tolerance:
        return False
    return verify_response_signature(headers, body, platform_keys)


def decrypt_notify_resource(resource: Mapping[str, Any], api_v3_key: bytes) -> dict[str, Any]:
    """AEAD_AES_256_GCM: key = APIv3 key, ciphertext = Base64(encrypted || 16-byte tag).

    docs/protocols.md, "WeChat Pay / Refund notify".
    """
    if len(api_v3_key) != 32:
        raise ValueError("the APIv3 key is 32 bytes")
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise NotifyRejected(f"unsupported algorithm {resource.get('algorithm')!r}")
    try:
        nonce = str(resource["nonce"]).encode("utf-8")
        associated = str(resource.get("associated_data") or "").encode("utf-8")
        sealed = base64.b64decode(str(resource["ciphertext"]), validate=True)
        plain = AESGCM(api_v3_key).decrypt(nonce, sealed, associated)
        value = json.loads(plain)
    except (KeyError, binascii.Error, InvalidTag, ValueError) as error:
        raise NotifyRejected(f"resource does not decrypt: {error!r}") from error
    if not isinstance(value, dict):
        raise NotifyRejected("decrypted resource is not a JSON object")
    return value


def _load_object(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        value = json.loads(body)
    except ValueError as error:
        raise MalformedPayload(f"WeChat Pay payload is not JSON: {error}") from error
    if not isinstance(value, dict):
        raise MalformedPayload("WeChat Pay payload is not a JSON object")
    return value


def _parse_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text)).astimezone(UTC)  # RFC 3339
    except ValueError as error:
        raise MalformedPayload(f"bad success_time {text!r}") from error


def parse_refund(payload: Mapping[str, Any]) -> GatewayRefund:
    """An apply/query answer or a decrypted notify resource as a GatewayRefund."""
    raw_status = str(payload.get("status") or payload.get("refund_status") or "")
    amount = payload.get("amount")
    out_refund_no = payload.get("out_refund_no")
    if not raw_status or not out_refund_no or not isinstance(amount, Mapping):
        raise MalformedPayload("refund without status, out_refund_no or amount")
    refund_fen = amount.get("refund")
    if isinstance(refund_fen, bool) or not isinstance(refund_fen, int):
        raise MalformedPayload("amount.refund is not an integer number of fen")
    return GatewayRefund(
        gateway=GATEWAY,
        out_refund_no=str(out_refund_no),
        status=STATUSES.get(raw_status, RefundStatus.UNKNOWN),
        raw_status=raw_status,
        amount_fen=refund_fen,
        gateway_refund_id=str(payload.get("refund_id") or "") or None,
        success_time=_parse_time(payload.get("success_time")),
        received_account=str(payload.get("user_received_account") or "") or None,
        payment_reference=str(payload.get("out_trade_no") or "") or None,
        gateway_payment_id=str(payload.get("transaction_id") or "") or None,
    )


def parse_refund_response(body: bytes | str | Mapping[str, Any]) -> GatewayRefund:
    """The apply or query answer (they share one shape)."""
    return parse_refund(_load_object(body))


def parse_refund_notify(body: bytes | str | Mapping[str, Any], api_v3_key: bytes) -> RefundNotice:
    """A notify body whose signature was already checked, decrypted and parsed."""
    try:
        envelope = _load_object(body)
        resource = envelope.get("resource")
        if not isinstance(resource, Mapping) or not envelope.get("id"):
            raise MalformedPayload("notify without id or resource")
        refund = parse_refund(decrypt_notify_resource(resource, api_v3_key))
    except MalformedPayload as error:
        raise NotifyRejected(str(error)) from error
    return RefundNotice(
        event_id=str(envelope["id"]),
        event_type=str(envelope.get("event_type") or ""),
        summary=str(envelope.get("summary") or ""),
        refund=refund,
    )


def read_refund_notify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    platform_keys: Mapping[str, rsa.RSAPublicKey],
    api_v3_key: bytes,
    now: float,
    tolerance: int = NOTIFY_TOLERANCE_SECONDS,
) -> RefundNotice:
    """Everything the webhook route needs: verify, check age, decrypt, parse."""
    if not verify_notify_signature(headers, body, platform_keys, now=now, tolerance=tolerance):
        raise NotifyRejected("bad signature, unknown serial or stale timestamp")
    return parse_refund_notify(body, api_v3_key)


def classify_error(
    status_code: int, code: str | None, message: str, *, querying: bool = False
) -> GatewayError:
    """The exception for a non-2xx answer: retryable codes and statuses first, then terminal."""
    if (code in RETRYABLE_CODES) or is_retryable_status(status_code):
        return GatewayUnavailable(GATEWAY, message, code=code, status_code=status_code)
    if querying and (status_code == 404 or code == "RESOURCE_NOT_EXISTS"):
        return RefundNotFound(GATEWAY, message, code=code, status_code=status_code)
    return GatewayRejected(GATEWAY, message, code=code, status_code=status_code)


def parse_error(status_code: int, body: bytes, *, querying: bool = False) -> GatewayError:
    """An error answer ({"code", "message"}, or a proxy's HTML page) classified."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return classify_error(
            status_code, None, body[:200].decode(errors="replace"), querying=querying
        )
    code = str(payload.get("code") or "") or None
    return classify_error(status_code, code, str(payload.get("message") or ""), querying=querying)


def new_nonce() -> str:
    return secrets.token_hex(16)


class WeChatPayClient:
    """The HTTP side of the adapter; every answer goes through the pure functions above."""

    gateway = GATEWAY

    def __init__(
        self,
        http: httpx.Client,
        *,
        mchid: str,
        serial_no: str,
        private_key: rsa.RSAPrivateKey,
        platform_keys: Mapping[str, rsa.RSAPublicKey],
        api_v3_key: bytes,
        notify_url: str,
        base_url: str = PRODUCTION_URL,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        make_nonce: Callable[[], str] = new_nonce,
    ) -> None:
        self.http = http
        self.mchid, self.serial_no, self.private_key = mchid, serial_no, private_key
        self.platform_keys = platform_keys
        self.api_v3_key = api_v3_key
        self.notify_url = notify_url
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._clock, self._make_nonce = clock, make_nonce

    def refund(
        self,
        payment_reference: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
    ) -> GatewayRefund:
        """Apply for a refund of out_trade_no `payment_reference`; usually PROCESSING."""
        payload = build_refund_request(
            out_refund_no=out_refund_no,
            amount_fen=amount_fen,
            total_fen=total_fen,
            reason=reason,
            notify_url=self.notify_url,
            out_trade_no=payment_reference,
        )
        return self._exchange("POST", REFUNDS_PATH, encode_json(payload), out_refund_no)

    def query(self, out_refund_no: str, payment_reference: str) -> GatewayRefund:
        """The refund by out_refund_no (WeChat needs no payment reference to find it)."""
        return self._exchange("GET", build_query_path(out_refund_no), b"", out_refund_no)

    def read_notify(self, headers: Mapping[str, str], body: bytes) -> RefundNotice:
        """Verify and decrypt a refund notify posted to our notify_url."""
        return read_refund_notify(
            headers,
            body,
            platform_keys=self.platform_keys,
            api_v3_key=self.api_v3_key,
            now=self._clock(),
        )

    def _exchange(self, method: str, path: str, body: bytes, out_refund_no: str) -> GatewayRefund:
        response = self._send(method, path, body)
        if response.status_code >= 300:
            raise parse_error(response.status_code, response.content, querying=method == "GET")
        if not verify_response_signature(response.headers, response.content, self.platform_keys):
            raise ResponseNotTrusted(GATEWAY, "answer signature did not verify")
        try:
            refund = parse_refund_response(response.content)
        except MalformedPayload as error:
            raise ResponseNotTrusted(GATEWAY, str(error)) from error
        if refund.out_refund_no != out_refund_no:
            raise ResponseNotTrusted(GATEWAY, f"answer is about {refund.out_refund_no!r}")
        return refund

    def _send(self, method: str, path: str, body: bytes) -> httpx.Response:
        authorization = build_authorization(
            method=method,
            url=path,
            body=body,
            mchid=self.mchid,
            serial_no=self.serial_no,
            private_key=self.private_key,
            timestamp=int(self._clock()),
            nonce=self._make_nonce(),
        )
        headers = {"Authorization": authorization, "Accept": "application/json"}
        if body:
            headers["Content-Type"] = "application/json"
        try:
            return self.http.request(
                method,
                self.base_url + path,
                content=body or None,
                headers=headers,
                timeout=self.timeout,
            )
        except httpx.TransportError as error:
            # Includes timeouts: the refund may have been made, so the caller retries
            # with the same out_refund_no or queries; both are safe.
            raise GatewayUnavailable(GATEWAY, f"transport error: {error!r}") from error
