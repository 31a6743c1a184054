"""Aliyun SMS SendSms (dysmsapi 2017-05-25) over the RPC API, signed with HMAC-SHA1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from backend.notifications.base import (
    DEFAULT_TIMEOUT,
    NotificationRejected,
    NotificationUnavailable,
    SendResult,
    json_object,
    request,
)
from backend.phones import normalize_mobile

PROVIDER = "aliyun_sms"
ENDPOINT = "https://dysmsapi.aliyuncs.com"
API_VERSION = "2017-05-25"
REGION_ID = "cn-hangzhou"  # the region of every mainland SendSms example (101343)

# Signing follows Aliyun's "签名机制" page for SMS (help.aliyun.com/document_detail/101343)
# and the generic RPC page (/130769); the tests reproduce Aliyun's own worked examples.
# Aliyun's SDKs now default to ACS3-HMAC-SHA256; the SMS page documents this older scheme.
# Both: docs/protocols.md, "Aliyun SMS / SMS signature".
SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"


# Codes worth retrying later. Which of these (and of REJECTED_CODES) are confirmed, and by
# what, is in docs/protocols.md, "Aliyun SMS / SMS error codes".
RETRYABLE_CODES: dict[str, str] = {
    "isv.BUSINESS_LIMIT_CONTROL": "per-number frequency control",
    "isp.SYSTEM_ERROR": "Aliyun system error",
    # Balance runs out account-wide; the same message goes through once topped up, so it
    # is an outage of the account, not a fault of the message (our judgement).
    "isv.AMOUNT_NOT_ENOUGH": "account balance too low",
    "isv.OUT_OF_SERVICE": "account suspended for balance",
    "isv.DAY_LIMIT_CONTROL": "daily sending cap set in the console reached",
    "isv.MONTH_LIMIT_CONTROL": "monthly sending cap set in the console reached",
    "Throttling.User": "gateway flow control",
    "Throttling": "gateway flow control",
    "ServiceUnavailable": "gateway unavailable",
}

# Codes that will fail again unchanged: fix the template, number or credentials instead.
REJECTED_CODES: dict[str, str] = {
    "isv.SMS_SIGNATURE_ILLEGAL": "SignName not approved",
    "isv.SMS_TEMPLATE_ILLEGAL": "TemplateCode not approved or not ours",
    "isv.MOBILE_NUMBER_ILLEGAL": "invalid phone number",
    "isv.TEMPLATE_MISSING_PARAMETERS": "TemplateParam lacks a template variable",
    "isv.INVALID_JSON_PARAM": "TemplateParam is not valid JSON",
    "isv.SMS_SIGN_ILLEGAL": "signature banned",
    "isv.SMS_CONTENT_ILLEGAL": "content contains forbidden words",
    "isp.RAM_PERMISSION_DENY": "RAM user lacks dysms:SendSms",
    "SignatureDoesNotMatch": "request signature wrong: check the AccessKey secret",
    "InvalidAccessKeyId.NotFound": "unknown AccessKeyId",
    "InvalidAccessKeyId.Inactive": "AccessKeyId disabled",
    "InvalidTimeStamp.Expired": "clock skew: Timestamp too far from Aliyun's time",
    "SignatureNonceUsed": "SignatureNonce replayed",
}


def percent_encode(value: str) -> str:
    """The POP encoding: RFC 3986 over UTF-8; only A-Z a-z 0-9 - _ . ~ stay as they are.

    So a space is %20 (not +), `*` is %2A and `~` is kept: what Java's URLEncoder
    plus Aliyun's three replacements produce. `quote` never escapes `-_.~`.
    """
    return quote(value, safe="")


def canonicalize(params: Mapping[str, str]) -> str:
    """Every parameter but Signature, sorted by name, as encoded `name=value` joined by `&`."""
    pairs = sorted((name, value) for name, value in params.items() if name != "Signature")
    return "&".join(f"{percent_encode(name)}={percent_encode(value)}" for name, value in pairs)


def build_string_to_sign(http_method: str, params: Mapping[str, str]) -> str:
    """HTTPMethod & percentEncode("/") & percentEncode(canonicalized query string)."""
    return f"{http_method.upper()}&{percent_encode('/')}&{percent_encode(canonicalize(params))}"


def compute_signature(string_to_sign: str, access_key_secret: str) -> str:
    """Base64(HMAC-SHA1(key = secret + "&", UTF-8 string to sign))."""
    key = f"{access_key_secret}&".encode()
    digest = hmac.new(key, string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def sign(params: Mapping[str, str], access_key_secret: str, http_method: str = "POST") -> str:
    """The Signature value for `params` sent with `http_method`."""
    return compute_signature(build_string_to_sign(http_method, params), access_key_secret)


def verify_signature(
    params: Mapping[str, str], access_key_secret: str, http_method: str = "POST"
) -> bool:
    """Whether params["Signature"] is right; bytes are compared in constant time."""
    expected = sign(params, access_key_secret, http_method).encode()
    return hmac.compare_digest(params.get("Signature", "").encode(), expected)


def normalize_phone(phone: str) -> str:
    """The bare 11-digit mainland mobile number, or NotificationRejected before any call.

    +86/0086/86/bare are the accepted formats (docs/protocols.md, "Aliyun SMS / SendSms"); we
    send the bare 11 digits so the number stored with the notification and the one Aliyun
    reports back are the same string.
    """
    mobile = normalize_mobile(phone)
    if mobile is None:
        raise NotificationRejected(PROVIDER, "not an 11-digit mainland mobile number")
    return mobile


def build_template_param(template_params: Mapping[str, str]) -> str:
    """TemplateParam is a JSON string of the template's variables (official)."""
    for name, value in template_params.items():
        if not isinstance(value, str):
            raise TypeError(f"template parameter {name!r} must be a str")
    return json.dumps(dict(template_params), ensure_ascii=False, separators=(",", ":"))


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC, yyyy-MM-ddTHH:mm:ssZ, as the common parameters require."""
    if moment.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_send_sms_request(
    *,
    access_key_id: str,
    access_key_secret: str,
    phone: str,
    sign_name: str,
    template_code: str,
    template_params: Mapping[str, str],
    out_id: str,
    timestamp: datetime,
    nonce: str,
    http_method: str = "POST",
    region_id: str = REGION_ID,
) -> dict[str, str]:
    """All SendSms parameters, Signature included, for one message to one number.

    OutId carries our idempotency key: Aliyun does not dedupe, but it echoes OutId in
    delivery receipts, which ties a receipt back to our row (docs/protocols.md, "Aliyun
    SMS / SendSms"; OutId itself is named by SDK wrappers, not by the page we read).
    """
    if not out_id:
        raise ValueError("out_id (our idempotency key) is required")
    params = {
        "AccessKeyId": access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "OutId": out_id,
        "PhoneNumbers": normalize_phone(phone),
        "RegionId": region_id,
        "SignName": sign_name,
        "SignatureMethod": SIGNATURE_METHOD,
        "SignatureNonce": nonce,
        "SignatureVersion": SIGNATURE_VERSION,
        "TemplateCode": template_code,
        "Timestamp": format_timestamp(timestamp),
        "Version": API_VERSION,
    }
    if template_params:
        params["TemplateParam"] = build_template_param(template_params)
    params["Signature"] = sign(params, access_key_secret, http_method)
    return params


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def parse_send_sms_response(
    payload: Mapping[str, Any], *, out_id: str = "", http_status: int = 200
) -> SendResult:
    """`{"Code":"OK","BizId":...}` as a SendResult; any other Code raises, classified.

    Unknown codes are terminal: SendSms is not idempotent, so a refusal we do not
    understand goes to a person rather than round a retry loop that might double-send.
    """
    code = str(payload.get("Code") or "")
    message = str(payload.get("Message") or "")
    if code == "OK":
        return SendResult(
            provider=PROVIDER,
            idempotency_key=out_id,
            message_id=_text(payload.get("BizId")),
            request_id=_text(payload.get("RequestId")),
        )
    if code in RETRYABLE_CODES:
        raise NotificationUnavailable(
            PROVIDER, message or RETRYABLE_CODES[code], code=code, status_code=http_status
        )
    reason = message or REJECTED_CODES.get(code, "answer has no Code")
    raise NotificationRejected(PROVIDER, reason, code=code or None, status_code=http_status)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_nonce() -> str:
    # A fresh nonce per request, retries included: Aliyun refuses a nonce it has seen.
    return uuid.uuid4().hex


class AliyunSmsClient:
    """The HTTP side of SendSms; every answer goes through the pure functions above.

    Parameters travel as a POST form rather than a GET query (the SMS page's example
    uses GET; the signing page allows either, the method being part of StringToSign,
    unconfirmed for dysmsapi specifically): it keeps phone numbers and signatures out of
    URL logs, httpx's own INFO request log included.
    """

    provider = PROVIDER

    def __init__(
        self,
        http: httpx.Client,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        endpoint: str = ENDPOINT,
        region_id: str = REGION_ID,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = _utc_now,
        new_nonce: Callable[[], str] = _new_nonce,
    ) -> None:
        self._http = http
        self._access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        self._sign_name = sign_name
        self._url = endpoint.rstrip("/") + "/"
        self._region_id = region_id
        self._timeout = timeout
        self._clock = clock
        self._new_nonce = new_nonce

    def send(
        self,
        phone: str,
        template_code: str,
        template_params: Mapping[str, str],
        out_id: str,
    ) -> SendResult:
        form = build_send_sms_request(
            access_key_id=self._access_key_id,
            access_key_secret=self._access_key_secret,
            phone=phone,
            sign_name=self._sign_name,
            template_code=template_code,
            template_params=template_params,
            out_id=out_id,
            timestamp=self._clock(),
            nonce=self._new_nonce(),
            region_id=self._region_id,
        )
        response = request(
            self._http, "POST", self._url, provider=PROVIDER, timeout=self._timeout, data=form
        )
        body = json_object(response, PROVIDER)
        return parse_send_sms_response(body, out_id=out_id, http_status=response.status_code)
