"""Kuaidi100 (快递100): query, subscribe, signed push and MODIFY_ADDR intercept, per its docs."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from backend.logistics.carriers.base import (
    DEFAULT_TIMEOUT,
    AddressChangeReceipt,
    CarrierRejected,
    CarrierUnavailable,
    CircuitBreaker,
    MalformedPayload,
    ParsedPush,
    Recipient,
    load_json_object,
    now_ms,
    parse_china_time,
    post_form,
)
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent

SOURCE = "kuaidi100"
# 14 拒签 and 203 拒收: the recipient refused the parcel (kept as the raw code, see STATES).
REFUSED_CODES = frozenset({"14", "203"})
POLL_BASE_URL = "https://poll.kuaidi100.com"
API_BASE_URL = "https://api.kuaidi100.com"
# resultv2=4 makes every trajectory item carry its own statusCode (and 高级状态), which is
# what lets each event be normalized on its own: docs/protocols.md, "Kuaidi100 / Query".
RESULTV2 = "4"
# The push reply Kuaidi100 expects; anything else makes it push again (docs/protocols.md,
# "Kuaidi100 / Push callback").
PUSH_REPLY_OK: dict[str, object] = {"result": True, "returnCode": "200", "message": "成功"}

T = TrackingStatus

# state / statusCode -> (Kuaidi100's name, canonical status). Basic codes are official,
# advanced ones from a mirror of the doc: docs/protocols.md, "Kuaidi100 / State codes".
STATES: dict[str, tuple[str, TrackingStatus]] = {
    "0": ("在途", T.IN_TRANSIT),
    "1001": ("到达派件城市", T.IN_TRANSIT),
    "1002": ("干线", T.IN_TRANSIT),
    "1003": ("转递", T.IN_TRANSIT),
    # Basic 1 is named 揽收 (collected); the pre-pickup 101/102 exist only as advanced codes.
    "1": ("揽收", T.PICKED_UP),
    "101": ("已下单", T.INFO_RECEIVED),
    "102": ("待揽收", T.INFO_RECEIVED),
    "103": ("已揽收", T.PICKED_UP),
    "5": ("派件", T.OUT_FOR_DELIVERY),
    "501": ("投柜或驿站", T.AVAILABLE_FOR_PICKUP),
    "3": ("签收", T.DELIVERED),
    "301": ("本人签收", T.DELIVERED),
    "302": ("派件异常后签收", T.DELIVERED),
    "303": ("代签", T.DELIVERED),
    "304": ("投柜或站签收", T.DELIVERED),
    "6": ("退回", T.RETURNING),
    "4": ("退签", T.RETURNED),
    "401": ("已销单", T.CANCELLED),
    # 14 拒签 is listed both as basic and under 退签: refused, a 6/4 usually follows.
    "14": ("拒签", T.EXCEPTION),
    "7": ("转投", T.IN_TRANSIT),
    "2": ("疑难", T.EXCEPTION),
    "201": ("超时未签收", T.EXCEPTION),
    "202": ("超时未更新", T.EXCEPTION),
    "203": ("拒收", T.EXCEPTION),
    "204": ("派件异常", T.FAILED_ATTEMPT),
    "205": ("柜或驿站超时未取", T.EXCEPTION),
    "206": ("无法联系", T.FAILED_ATTEMPT),
    "207": ("超区", T.EXCEPTION),
    "208": ("滞留", T.EXCEPTION),
    "209": ("破损", T.EXCEPTION),
    "210": ("销单", T.CANCELLED),
    "8": ("清关", T.CUSTOMS),
    "10": ("待清关", T.CUSTOMS),
    "11": ("清关中", T.CUSTOMS),
    "12": ("已清关", T.CUSTOMS),
    "13": ("清关异常", T.EXCEPTION),
}
# resultv2=1 gives names without codes; a name is as precise as its code.
_STATUS_BY_NAME = {name: status for name, status in STATES.values()}

# Query returnCodes (docs/protocols.md, "Kuaidi100 / Query"): 501 服务器错误 and 502
# 服务器繁忙 are worth retrying; 500 means "no result yet" for a fresh waybill. 503 is the
# business code for a bad signature, not HTTP 503, so it is terminal like 400 and 601.
_QUERY_RETRYABLE = frozenset({"501", "502"})
_QUERY_NO_RESULT = "500"


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def compact_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def build_label_form(
    method: str, key: str, secret: str, param: str, timestamp_ms: int
) -> dict[str, str]:
    """The signed form every /label/order method shares (order, cancel, printOld, intercept).

    sign = upper-case MD5 of param + t + key + secret: docs/protocols.md, "Kuaidi100 /
    Intercept and address change" and "Kuaidi100 e-waybill / Transport and signature".
    """
    t = str(timestamp_ms)
    sign = _md5_upper(param + t + key + secret)
    return {"method": method, "key": key, "t": t, "param": param, "sign": sign}


def normalize_state(code: str | int | None) -> TrackingStatus:
    """A Kuaidi100 state code (or, with resultv2=1, its name); UNKNOWN when unmapped."""
    if code is None:
        return T.UNKNOWN
    key = str(code).strip()
    if key in STATES:
        return STATES[key][1]
    return _STATUS_BY_NAME.get(key, T.UNKNOWN)


def build_query_request(
    customer: str,
    key: str,
    company: str,
    number: str,
    phone: str | None = None,
    resultv2: str = RESULTV2,
) -> dict[str, str]:
    """Form fields for POST /poll/query.do; the sign covers the exact `param` string sent."""
    param: dict[str, str] = {"com": company, "num": number}
    if phone:
        param["phone"] = phone
    if resultv2:
        param["resultv2"] = resultv2
    text = compact_json(param)
    return {"customer": customer, "sign": _md5_upper(text + key + customer), "param": text}


def _parse_item(item: Mapping[str, Any]) -> CarrierEvent:
    code = item.get("statusCode")
    raw = str(code).strip() if code not in (None, "") else None
    if raw is None and item.get("status"):
        raw = str(item["status"]).strip()  # the 状态名称, when no code was asked for
    location = str(item.get("location") or "").strip() or str(item.get("areaName") or "").strip()
    return CarrierEvent(
        occurred_at=parse_china_time(str(item.get("time") or item.get("ftime") or "")),
        status=normalize_state(raw),
        description=str(item.get("context") or "").strip(),
        raw_code=raw,
        location=location or None,
    )


def _parse_result(result: Mapping[str, Any], carrier_code: str, **extra: Any) -> ParsedPush:
    items = result.get("data") or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise MalformedPayload("kuaidi100 data is not a list of objects")
    state = result.get("state")
    raw_state = str(state).strip() if state not in (None, "") else None
    return ParsedPush(
        carrier_code=carrier_code,
        tracking_no=str(result.get("nu") or ""),
        # Full history, newest first, exactly as sent.
        events=[_parse_item(item) for item in items],
        # An empty list ("3天查询无记录") is no news, never "forget every stored event".
        full_history=bool(items),
        source=SOURCE,
        raw_state=raw_state,
        state=normalize_state(raw_state) if raw_state else None,
        is_signed=str(result.get("ischeck") or "0") == "1",
        **extra,
    )


def parse_query_response(body: Mapping[str, Any], company: str, number: str) -> ParsedPush:
    """The query answer as an update; raises CarrierUnavailable / CarrierRejected on refusal."""
    if body.get("result") is False or str(body.get("returnCode") or "200") != "200":
        code = str(body.get("returnCode") or "")
        message = str(body.get("message") or "")
        if code == _QUERY_NO_RESULT:
            # Nothing to report yet: an empty, incremental update, so nothing stored is dropped.
            return ParsedPush(company, number, [], full_history=False, source=SOURCE)
        if code in _QUERY_RETRYABLE:
            raise CarrierUnavailable(SOURCE, f"{code} {message}")
        raise CarrierRejected(SOURCE, code or None, message)
    # Filed under the code we asked with: that is the shipment's key.
    parsed = _parse_result(body, company)
    if not parsed.tracking_no:
        raise MalformedPayload("kuaidi100 answer has no nu")
    return parsed


def build_subscribe_request(
    key: str,
    company: str,
    number: str,
    callback_url: str,
    salt: str,
    resultv2: str = RESULTV2,
    phone: str | None = None,
    destination: str | None = None,
) -> dict[str, str]:
    """Form fields for POST /poll: no sign on this call, the key travels inside `param`."""
    parameters: dict[str, str] = {"callbackurl": callback_url, "salt": salt, "resultv2": resultv2}
    if phone:
        parameters["phone"] = phone
    param: dict[str, Any] = {"company": company, "number": number}
    if destination:
        param["to"] = destination
    param["key"] = key
    param["parameters"] = parameters
    return {"schema": "json", "param": compact_json(param)}


def parse_subscribe_response(body: Mapping[str, Any]) -> bool:
    """True for a new subscription, False for 501 重复订阅 (already polling).

    The codes: docs/protocols.md, "Kuaidi100 / Subscribe".
    """
    code = str(body.get("returnCode") or "")
    message = str(body.get("message") or "")
    if code == "200" and body.get("result") is not False:
        return True
    if code == "501":
        return False
    if code == "500":
        # 服务器错误; also sent for some malformed requests, but the job queue's attempt
        # limit bounds the retries and a dead job is shown to staff.
        raise CarrierUnavailable(SOURCE, f"{code} {message}")
    raise CarrierRejected(SOURCE, code or None, message)


def verify_push_signature(param: str, sign: str, salt: str) -> bool:
    """MD5(param + salt) against the pushed `sign`, over the raw form value of `param`.

    The push page writes md5(...) while Kuaidi100's SDKs upper-case every digest, and
    which one the push uses is unconfirmed (docs/protocols.md, "Kuaidi100 / Push
    callback"), so hex case is ignored. Bytes are compared so odd input cannot raise.
    """
    expected = hashlib.md5((param + salt).encode("utf-8"), usedforsecurity=False).hexdigest()
    return hmac.compare_digest(expected.encode(), sign.strip().lower().encode("utf-8"))


def parse_push(param: str | bytes | Mapping[str, Any]) -> ParsedPush:
    """A verified push's `param` JSON; lastResult.data is the full history, newest first."""
    data = load_json_object(param, SOURCE)
    last = data.get("lastResult")
    if not isinstance(last, Mapping):
        raise MalformedPayload("kuaidi100 push has no lastResult")
    corrected = str(data.get("comNew") or "") if str(data.get("autoCheck")) == "1" else ""
    # The shipment is filed under the code we subscribed with, even if Kuaidi100 fixed it.
    carrier_code = str(data.get("comOld") or "") if corrected else ""
    parsed = _parse_result(
        last,
        carrier_code or str(last.get("com") or ""),
        monitor_status=str(data.get("status") or "") or None,
        monitor_message=str(data.get("message") or ""),
        corrected_carrier_code=corrected or None,
    )
    if not parsed.tracking_no or not parsed.carrier_code:
        raise MalformedPayload("kuaidi100 push has no nu or com")
    return parsed


def build_intercept_request(
    key: str,
    secret: str,
    company: str,
    number: str,
    recipient: Recipient,
    *,
    callback_url: str,
    timestamp_ms: int,
    reason: str = "",
    order_id: str | None = None,
    account: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Form fields for POST /label/order method=interceptOrder, interceptType MODIFY_ADDR.

    `account` holds the per-carrier e-waybill fields (partnerId, partnerKey, partnerSecret,
    partnerName, net, code). callbackUrl is required for 中通/极兔/圆通 and is the only way
    any carrier reports the outcome, so it is always sent.
    """
    param: dict[str, Any] = {"kuaidicom": company, "kuaidinum": number}
    param.update(account or {})
    param["interceptType"] = "MODIFY_ADDR"
    param["recManInfo"] = {
        "name": recipient.name,
        "mobile": recipient.mobile,
        "printAddr": recipient.address,
        "company": recipient.company,
    }
    param["reason"] = reason
    if order_id:
        param["orderId"] = order_id
    param["callbackUrl"] = callback_url
    return build_label_form("interceptOrder", key, secret, compact_json(param), timestamp_ms)


def build_return_intercept_request(
    key: str,
    secret: str,
    company: str,
    number: str,
    *,
    callback_url: str,
    timestamp_ms: int,
    reason: str = "",
    order_id: str | None = None,
    account: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Form fields for interceptOrder with interceptType RETURN_SEND_ADDR (退回寄件地址).

    The parcel goes back to the address it was sent from, so no recManInfo is sent (the
    docs require it only for MODIFY_ADDR); same signature and callbackUrl rule as above.
    """
    param: dict[str, Any] = {"kuaidicom": company, "kuaidinum": number}
    param.update(account or {})
    param["interceptType"] = "RETURN_SEND_ADDR"
    param["reason"] = reason
    if order_id:
        param["orderId"] = order_id
    param["callbackUrl"] = callback_url
    return build_label_form("interceptOrder", key, secret, compact_json(param), timestamp_ms)


def parse_intercept_response(
    body: Mapping[str, Any], company: str, number: str
) -> AddressChangeReceipt:
    """Accepted or refused; the final outcome only comes by callback.

    The answer's shape is unconfirmed (docs/protocols.md, "Kuaidi100 / Intercept and
    address change"): this assumes the envelope of Kuaidi100's other newer APIs
    ({success, code, message, data}).
    """
    code = str(body.get("code") or "")
    message = str(body.get("message") or "")
    if body.get("success") is True and code in ("", "200"):
        data = body.get("data")
        reference = data.get("taskId") if isinstance(data, Mapping) else None
        return AddressChangeReceipt(company, number, message, str(reference) if reference else None)
    if code.startswith("5"):
        raise CarrierUnavailable(SOURCE, f"{code} {message}")
    raise CarrierRejected(SOURCE, code or None, message)


class Kuaidi100Client:
    """The HTTP side of the adapter; every answer goes through the pure functions above."""

    source = SOURCE

    def __init__(
        self,
        http: httpx.Client,
        *,
        customer: str,
        key: str,
        salt: str,
        secret: str = "",
        intercept_account: Mapping[str, str] | None = None,
        poll_base_url: str = POLL_BASE_URL,
        api_base_url: str = API_BASE_URL,
        breaker: CircuitBreaker | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._http = http
        self._customer = customer
        self._key = key
        self._salt = salt
        self._secret = secret
        self._account = dict(intercept_account or {})
        self._poll = poll_base_url.rstrip("/")
        self._api = api_base_url.rstrip("/")
        self.breaker = breaker or CircuitBreaker(SOURCE)
        self._timeout = timeout
        self._clock_ms = clock_ms

    def _post(self, url: str, form: Mapping[str, str], interpret: Callable[[Any], Any]) -> Any:
        return post_form(
            self._http,
            url,
            form,
            interpret,
            carrier=SOURCE,
            breaker=self.breaker,
            timeout=self._timeout,
        )

    def query(self, company: str, tracking_no: str, *, phone: str | None = None) -> ParsedPush:
        form = build_query_request(self._customer, self._key, company, tracking_no, phone)
        parsed: ParsedPush = self._post(
            f"{self._poll}/poll/query.do",
            form,
            lambda body: parse_query_response(body, company, tracking_no),
        )
        return parsed

    def subscribe(
        self,
        company: str,
        tracking_no: str,
        *,
        callback_url: str,
        phone: str | None = None,
        destination: str | None = None,
    ) -> bool:
        form = build_subscribe_request(
            self._key, company, tracking_no, callback_url, self._salt, RESULTV2, phone, destination
        )
        created: bool = self._post(f"{self._poll}/poll", form, parse_subscribe_response)
        return created

    def request_address_change(
        self,
        company: str,
        tracking_no: str,
        recipient: Recipient,
        *,
        callback_url: str,
        reason: str = "",
        order_reference: str | None = None,
    ) -> AddressChangeReceipt:
        form = build_intercept_request(
            self._key,
            self._secret,
            company,
            tracking_no,
            recipient,
            callback_url=callback_url,
            timestamp_ms=self._clock_ms(),
            reason=reason,
            order_id=order_reference,
            account=self._account,
        )
        receipt: AddressChangeReceipt = self._post(
            f"{self._api}/label/order",
            form,
            lambda body: parse_intercept_response(body, company, tracking_no),
        )
        return receipt

    def request_return_to_sender(
        self,
        company: str,
        tracking_no: str,
        *,
        callback_url: str,
        reason: str = "",
        order_reference: str | None = None,
    ) -> AddressChangeReceipt:
        form = build_return_intercept_request(
            self._key,
            self._secret,
            company,
            tracking_no,
            callback_url=callback_url,
            timestamp_ms=self._clock_ms(),
            reason=reason,
            order_id=order_reference,
            account=self._account,
        )
        receipt: AddressChangeReceipt = self._post(
            f"{self._api}/label/order",
            form,
            lambda body: parse_intercept_response(body, company, tracking_no),
        )
        return receipt
