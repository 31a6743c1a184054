"""SF Express (顺丰丰桥): msgDigest signature, incremental route push and route query."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any
from urllib.parse import quote_plus

import httpx

from backend.logistics.carriers.base import (
    DEFAULT_TIMEOUT,
    CarrierRejected,
    CarrierUnavailable,
    CircuitBreaker,
    MalformedPayload,
    ParsedPush,
    load_json_object,
    now_ms,
    parse_china_time,
    post_form,
)
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent

SOURCE = "sf"
CARRIER_CODE = "shunfeng"  # the internal key is Kuaidi100's company code
PRODUCTION_URL = "https://bspgw.sf-express.com/std/service"
SANDBOX_URL = "https://sfapi-sbox.sf-express.com/std/service"
ROUTE_QUERY_SERVICE = "EXP_RECE_SEARCH_ROUTES"
# The body SF expects back from a route push, from two independent integrations:
# docs/protocols.md, "SF Express / Route push".
PUSH_REPLY_OK: dict[str, str] = {"return_code": "0000", "return_msg": "成功"}

T = TrackingStatus

# No official opCode table was found (docs/protocols.md, "SF Express / Route opCodes"):
# every entry is from open-source integrations, so the table is a default that settings
# (PORTAL_SF_OP_CODES) override code by code. Those integrations suggest guessing unknown
# codes from `remark` keywords; we don't: an unmapped code stays UNKNOWN with its raw
# value, and an override is how a confirmed meaning gets in.
DEFAULT_OP_CODES: Mapping[str, TrackingStatus] = MappingProxyType(
    {
        "50": T.PICKED_UP,  # 顺丰已收取快件
        "54": T.PICKED_UP,  # 揽收
        "30": T.IN_TRANSIT,  # 完成分拣 / 装车
        "31": T.IN_TRANSIT,  # 到达中转场 / 网点
        "36": T.IN_TRANSIT,  # 离开 … 发往 …
        "105": T.IN_TRANSIT,  # unconfirmed: one source only
        "106": T.IN_TRANSIT,  # unconfirmed: one source only
        "44": T.OUT_FOR_DELIVERY,  # 正在派送
        "204": T.OUT_FOR_DELIVERY,  # 交给收派员
        "80": T.DELIVERED,  # 已签收 (multiple sources)
        "8000": T.DELIVERED,  # unconfirmed: grouped with 80
        "130": T.AVAILABLE_FOR_PICKUP,  # unconfirmed: 到达自提点
        "607": T.AVAILABLE_FOR_PICKUP,  # unconfirmed: grouped with pickup points
        "605": T.CUSTOMS,  # unconfirmed: 清关中
        "310": T.CUSTOMS,  # unconfirmed: 清关完成
        "631": T.RETURNING,  # unconfirmed: 快件已退回
        "648": T.RETURNING,  # unconfirmed: 快件已退回
        # Left out on purpose, so they stay UNKNOWN with the raw code until someone
        # confirms them: 70 (sources conflict: 派送失败 vs 到达), 99 (转寄/改址, direction
        # unclear), 123 (grouped with both transit and pickup points), 407/501 (one sample).
    }
)


def build_op_code_table(
    overrides: Mapping[str, TrackingStatus | str] | None = None,
) -> dict[str, TrackingStatus]:
    """The default opCode table with `overrides` laid over it."""
    table = dict(DEFAULT_OP_CODES)
    for code, status in (overrides or {}).items():
        table[str(code).strip()] = TrackingStatus(status)
    return table


def parse_op_code_overrides(text: str) -> dict[str, TrackingStatus]:
    """Overrides from a setting's value, e.g. "70=failed_attempt, 99=in_transit"."""
    overrides: dict[str, TrackingStatus] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        code, separator, status = pair.partition("=")
        if not separator or not code.strip():
            raise ValueError(f"expected opCode=status, got {pair!r}")
        overrides[code.strip()] = TrackingStatus(status.strip())
    return overrides


def java_url_encode(text: str) -> str:
    """Java URLEncoder.encode(text, "UTF-8"), which SF's digest is defined over.

    quote_plus differs in two characters: Java leaves `*` alone and escapes `~`.
    """
    return quote_plus(text, safe="*", encoding="utf-8").replace("~", "%7E")


def compute_msg_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    """Base64(raw MD5(URLEncode(msgData + timestamp + checkWord))).

    Reproduces SF's official worked example: docs/protocols.md, "SF Express / Gateway and
    signature".
    """
    encoded = java_url_encode(msg_data + timestamp + check_word)
    digest = hashlib.md5(encoded.encode("utf-8"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_push(msg_data: str, timestamp: str, msg_digest: str, check_word: str) -> bool:
    """The form-encoded push variant signed like a gateway request.

    丰桥 route-push signing is not documented; one integration signs pushes this way
    (unconfirmed: docs/protocols.md, "SF Express / Route push"). Deployments without it
    rely on verify_push_token on a secret path segment.
    """
    expected = compute_msg_digest(msg_data, timestamp, check_word)
    return hmac.compare_digest(expected.encode(), msg_digest.strip().encode("utf-8"))


def verify_push_token(presented: str, expected: str) -> bool:
    """A secret token in the push URL, compared in constant time."""
    return bool(expected) and hmac.compare_digest(presented.encode("utf-8"), expected.encode())


def _parse_route(item: Mapping[str, Any], op_codes: Mapping[str, TrackingStatus]) -> CarrierEvent:
    op_code = str(item.get("opCode") or "").strip() or None
    return CarrierEvent(
        occurred_at=parse_china_time(str(item.get("acceptTime") or "")),
        status=op_codes.get(op_code, T.UNKNOWN) if op_code else T.UNKNOWN,
        description=str(item.get("remark") or "").strip(),
        raw_code=op_code,
        location=str(item.get("acceptAddress") or "").strip() or None,
    )


def _object_list(value: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise MalformedPayload(f"SF {what} is not a list of objects")
    return value


def parse_route_push(
    body: str | bytes | Mapping[str, Any],
    op_codes: Mapping[str, TrackingStatus] = DEFAULT_OP_CODES,
) -> list[ParsedPush]:
    """One incremental update per waybill in the push, items kept in the order sent.

    A push may carry routes of several waybills (a sub or return waybill of the same
    order), so this returns a list; never a full history, SF only sends what is new.
    """
    envelope = load_json_object(body, SOURCE).get("Body")
    if not isinstance(envelope, Mapping):
        raise MalformedPayload("SF push has no Body")
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for item in _object_list(envelope.get("WaybillRoute"), "WaybillRoute"):
        number = str(item.get("mailno") or "").strip()
        if not number:
            raise MalformedPayload("SF route without mailno")
        grouped.setdefault(number, []).append(item)
    return [
        ParsedPush(
            carrier_code=CARRIER_CODE,
            tracking_no=number,
            events=[_parse_route(item, op_codes) for item in items],
            full_history=False,
            source=SOURCE,
            order_reference=str(items[0].get("orderid") or "") or None,
        )
        for number, items in grouped.items()
    ]


def build_route_query_request(
    partner_id: str,
    check_word: str,
    tracking_numbers: Sequence[str],
    *,
    timestamp_ms: int,
    request_id: str,
    check_phone_no: str | None = None,
) -> dict[str, str]:
    """Form fields for EXP_RECE_SEARCH_ROUTES; `check_phone_no` is cut to its last 4 digits."""
    msg: dict[str, Any] = {
        "language": "0",
        "trackingType": "1",  # 1 = by waybill number, 2 = by our order id
        "trackingNumber": list(tracking_numbers),
        "methodType": "1",
    }
    if check_phone_no:
        msg["checkPhoneNo"] = check_phone_no[-4:]
    return build_gateway_request(
        partner_id,
        check_word,
        ROUTE_QUERY_SERVICE,
        msg,
        timestamp_ms=timestamp_ms,
        request_id=request_id,
    )


def build_gateway_request(
    partner_id: str,
    check_word: str,
    service_code: str,
    msg: Mapping[str, Any],
    *,
    timestamp_ms: int,
    request_id: str,
) -> dict[str, str]:
    """The 丰桥 form every service shares: the business JSON signed with msgDigest."""
    msg_data = json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
    timestamp = str(timestamp_ms)
    return {
        "partnerID": partner_id,
        "requestID": request_id,
        "serviceCode": service_code,
        "timestamp": timestamp,
        "msgDigest": compute_msg_digest(msg_data, timestamp, check_word),
        "msgData": msg_data,
    }


# Gateway codes (docs/protocols.md, "SF Express / Gateway and signature"): throttling and
# SF-side failures pass; the rest are our own mistakes (missing field, expired timestamp,
# bad IP, no permission, bad digest, replayed requestID).
_GATEWAY_RETRYABLE = frozenset({"A1005", "A1009", "A1099"})


def parse_business_result(body: Mapping[str, Any]) -> Mapping[str, Any]:
    code = str(body.get("apiResultCode") or "")
    if code != "A1000":
        message = str(body.get("apiErrorMsg") or "")
        if code in _GATEWAY_RETRYABLE:
            raise CarrierUnavailable(SOURCE, f"{code} {message}")
        raise CarrierRejected(SOURCE, code or None, message)
    # A1000 only means the gateway accepted the call; the business answer is a JSON string.
    result = load_json_object(str(body.get("apiResultData") or ""), SOURCE)
    if result.get("success") is not True:
        error_code = str(result.get("errorCode") or "") or None
        raise CarrierRejected(SOURCE, error_code, str(result.get("errorMsg") or ""))
    return result


def parse_route_query_response(
    body: Mapping[str, Any],
    op_codes: Mapping[str, TrackingStatus] = DEFAULT_OP_CODES,
) -> list[ParsedPush]:
    """Each waybill's routes; a query lists all of them, so it is a full history."""
    message = parse_business_result(body).get("msgData")
    if not isinstance(message, Mapping):
        raise MalformedPayload("SF route answer has no msgData")
    updates = []
    for response in _object_list(message.get("routeResps") or [], "routeResps"):
        routes = _object_list(response.get("routes") or [], "routes")
        events = [_parse_route(route, op_codes) for route in routes]
        updates.append(
            ParsedPush(
                carrier_code=CARRIER_CODE,
                tracking_no=str(response.get("mailNo") or ""),
                events=events,
                full_history=bool(events),  # no routes yet is no news, not "forget all"
                source=SOURCE,
            )
        )
    return updates


def new_request_id() -> str:
    return uuid.uuid4().hex  # SF rejects a reused requestID (A1007), so one per call


class SfClient:
    """The route query over HTTP. Pushes arrive at our webhook, subscriptions are set up in
    the 丰桥 console, and address change is not implemented here, so this is a TrackingQuery."""

    source = SOURCE

    def __init__(
        self,
        http: httpx.Client,
        *,
        partner_id: str,
        check_word: str,
        base_url: str = SANDBOX_URL,
        op_codes: Mapping[str, TrackingStatus] = DEFAULT_OP_CODES,
        breaker: CircuitBreaker | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock_ms: Callable[[], int] = now_ms,
        new_request_id: Callable[[], str] = new_request_id,
    ) -> None:
        self._http = http
        self._partner_id = partner_id
        self._check_word = check_word
        self._url = base_url
        self._op_codes = op_codes
        self.breaker = breaker or CircuitBreaker(SOURCE)
        self._timeout = timeout
        self._clock_ms = clock_ms
        self._new_request_id = new_request_id

    def query(self, company: str, tracking_no: str, *, phone: str | None = None) -> ParsedPush:
        form = build_route_query_request(
            self._partner_id,
            self._check_word,
            [tracking_no],
            timestamp_ms=self._clock_ms(),
            request_id=self._new_request_id(),
            check_phone_no=phone,
        )
        updates: list[ParsedPush] = post_form(
            self._http,
            self._url,
            form,
            lambda body: parse_route_query_response(body, self._op_codes),
            carrier=SOURCE,
            breaker=self.breaker,
            timeout=self._timeout,
        )
        for update in updates:
            if update.tracking_no == tracking_no:
                return update
        return ParsedPush(CARRIER_CODE, tracking_no, [], full_history=False, source=SOURCE)
