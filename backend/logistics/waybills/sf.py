"""SF Express (丰桥) waybills: EXP_RECE_CREATE_ORDER, cancel by EXP_RECE_UPDATE_ORDER, and the
label PDF from COM_RECE_CLOUD_PRINT_WAYBILLS, through the same gateway as route queries."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from backend.logistics.carriers.base import (
    DEFAULT_TIMEOUT,
    CarrierRejected,
    CarrierUnavailable,
    CircuitBreaker,
    MalformedPayload,
    now_ms,
    post_form,
)
from backend.logistics.carriers.sf import (
    CARRIER_CODE,
    SANDBOX_URL,
    build_gateway_request,
    new_request_id,
    parse_business_result,
)
from backend.logistics.waybills.base import BookedWaybill, Label, Party, WaybillRef, WaybillRequest

SOURCE = "sf"
CREATE_ORDER_SERVICE = "EXP_RECE_CREATE_ORDER"
SEARCH_ORDER_SERVICE = "EXP_RECE_SEARCH_ORDER_RESP"
UPDATE_ORDER_SERVICE = "EXP_RECE_UPDATE_ORDER"
CLOUD_PRINT_SERVICE = "COM_RECE_CLOUD_PRINT_WAYBILLS"
CANCEL = 2  # dealType: 1 confirms, 2 cancels
CANCELLED = 2  # resStatus: 1 order and waybill do not match, 2 done
NOT_SERVICEABLE = 3  # filterResult: 1 manual check, 2 serviceable, 3 not serviceable
# Neither the spelling of the route-label flag nor the code SF answers a reused orderId
# with is settled: both are settings (docs/protocols.md, "SF Express / Create order").
ROUTE_LABEL_FIELD = "isReturnRoutelabel"
DUPLICATE_ORDER_CODES = frozenset({"8016"})
DEFAULT_TEMPLATE = "fm_150_standard_{partner_id}"


@dataclass(frozen=True)
class PrintFile:
    """One PDF of a cloud-print answer, downloaded with its token in X-Auth-token."""

    waybill_no: str
    url: str
    token: str


def _contact(contact_type: int, party: Party) -> dict[str, Any]:
    return {
        "contactType": contact_type,
        "contact": party.name,
        "mobile": party.phone,
        "company": party.company,
        "country": "CN",
        "province": party.province,
        "city": party.city,
        "county": party.district,
        "address": party.street,
    }


def build_create_order_msg(
    request: WaybillRequest,
    *,
    monthly_card: str,
    express_type_id: int = 2,
    pay_method: int = 1,
    route_label_field: str = ROUTE_LABEL_FIELD,
) -> dict[str, Any]:
    """msgData for EXP_RECE_CREATE_ORDER: our order key is SF's orderId (unique per parcel)."""
    msg: dict[str, Any] = {
        "language": "zh-CN",
        "orderId": request.order_key,
        "cargoDetails": [{"name": item.name, "count": item.quantity} for item in request.items],
        "contactInfoList": [_contact(1, request.sender), _contact(2, request.recipient)],
        "payMethod": pay_method,
        "expressTypeId": express_type_id,
        "parcelQty": 1,
        route_label_field: 1,
    }
    if monthly_card:
        msg["monthlyCard"] = monthly_card
    if request.weight_grams is not None:
        msg["totalWeight"] = round(request.weight_grams / 1000, 3)  # kg, 3 decimals
    if request.remark:
        msg["remark"] = request.remark
    return msg


def build_create_order_request(
    partner_id: str,
    check_word: str,
    request: WaybillRequest,
    *,
    timestamp_ms: int,
    request_id: str,
    **options: Any,
) -> dict[str, str]:
    msg = build_create_order_msg(request, **options)
    return build_gateway_request(
        partner_id,
        check_word,
        CREATE_ORDER_SERVICE,
        msg,
        timestamp_ms=timestamp_ms,
        request_id=request_id,
    )


def _message(body: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    message = parse_business_result(body).get("msgData")
    if not isinstance(message, Mapping):
        raise MalformedPayload(f"SF {what} answer has no msgData")
    return message


def parse_create_order_response(body: Mapping[str, Any], request: WaybillRequest) -> BookedWaybill:
    """The waybill numbers from waybillNoInfoList (1 母单, 2 子单); the label comes later."""
    message = _message(body, "create order")
    if message.get("filterResult") in (NOT_SERVICEABLE, str(NOT_SERVICEABLE)):
        # remark: 1 recipient out of range, 2 pickup out of range, 3 other.
        raise CarrierRejected(SOURCE, "filterResult=3", f"不可收派 {message.get('remark') or ''}")
    numbers = message.get("waybillNoInfoList")
    if not isinstance(numbers, list):
        raise MalformedPayload("SF create order answer has no waybillNoInfoList")
    masters = [str(n.get("waybillNo") or "") for n in numbers if _waybill_type(n) == 1]
    children = [str(n.get("waybillNo") or "") for n in numbers if _waybill_type(n) == 2]
    if not masters or not masters[0]:
        raise MalformedPayload("SF create order answer has no master waybill number")
    return BookedWaybill(
        carrier_code=request.carrier_code or CARRIER_CODE,
        tracking_no=masters[0],
        order_key=request.order_key,
        label=Label(),
        child_numbers=tuple(n for n in children if n),
    )


def _waybill_type(item: Any) -> int | None:
    value = item.get("waybillType") if isinstance(item, Mapping) else None
    try:
        return int(str(value))
    except ValueError:
        return None


def build_search_order_request(
    partner_id: str, check_word: str, order_key: str, *, timestamp_ms: int, request_id: str
) -> dict[str, str]:
    """EXP_RECE_SEARCH_ORDER_RESP: what SF holds for our orderId (same shape as create)."""
    msg = {"orderId": order_key, "searchType": "1", "language": "zh-CN"}
    return build_gateway_request(
        partner_id,
        check_word,
        SEARCH_ORDER_SERVICE,
        msg,
        timestamp_ms=timestamp_ms,
        request_id=request_id,
    )


def build_cancel_request(
    partner_id: str, check_word: str, waybill: WaybillRef, *, timestamp_ms: int, request_id: str
) -> dict[str, str]:
    """EXP_RECE_UPDATE_ORDER dealType=2; the waybill number lets SF check it is that order's."""
    msg = {
        "orderId": waybill.order_key,
        "dealType": CANCEL,
        "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill.tracking_no}],
    }
    return build_gateway_request(
        partner_id,
        check_word,
        UPDATE_ORDER_SERVICE,
        msg,
        timestamp_ms=timestamp_ms,
        request_id=request_id,
    )


def parse_cancel_response(body: Mapping[str, Any]) -> None:
    status = _message(body, "update order").get("resStatus")
    if str(status) != str(CANCELLED):
        raise CarrierRejected(SOURCE, f"resStatus={status}", "订单号与运单号不匹配")


def build_cloud_print_request(
    partner_id: str,
    check_word: str,
    tracking_numbers: Sequence[str],
    *,
    template_code: str,
    timestamp_ms: int,
    request_id: str,
) -> dict[str, str]:
    """COM_RECE_CLOUD_PRINT_WAYBILLS 2.0, synchronous, PDF; at most 20 waybills a call."""
    if not 1 <= len(tracking_numbers) <= 20:
        raise ValueError("SF cloud print takes 1 to 20 waybills per call")
    msg = {
        "templateCode": template_code.format(partner_id=partner_id),
        "version": "2.0",
        "fileType": "pdf",
        "sync": True,
        "documents": [{"masterWaybillNo": number} for number in tracking_numbers],
    }
    return build_gateway_request(
        partner_id,
        check_word,
        CLOUD_PRINT_SERVICE,
        msg,
        timestamp_ms=timestamp_ms,
        request_id=request_id,
    )


def parse_cloud_print_response(body: Mapping[str, Any]) -> list[PrintFile]:
    """The files to download; this service answers in `obj`, not `msgData`."""
    obj = parse_business_result(body).get("obj")
    files = obj.get("files") if isinstance(obj, Mapping) else None
    if not isinstance(files, list) or not files:
        raise MalformedPayload("SF cloud print answer has no obj.files")
    parsed = []
    for item in files:
        if not isinstance(item, Mapping) or not item.get("url"):
            raise MalformedPayload("SF cloud print file without url")
        parsed.append(
            PrintFile(
                str(item.get("waybillNo") or ""), str(item["url"]), str(item.get("token") or "")
            )
        )
    return parsed


def parse_print_file(response: httpx.Response) -> bytes:
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise CarrierUnavailable(SOURCE, f"label file HTTP {response.status_code}")
    if response.status_code != 200 or not response.content.startswith(b"%PDF"):
        raise CarrierRejected(SOURCE, None, "label file refused or not a PDF", response.status_code)
    return response.content


class SfWaybillClient:
    """The HTTP side: create (recovering a reused orderId by searching), cancel, print."""

    provider = SOURCE

    def __init__(
        self,
        http: httpx.Client,
        *,
        partner_id: str,
        check_word: str,
        monthly_card: str,
        base_url: str = SANDBOX_URL,
        template_code: str = DEFAULT_TEMPLATE,
        express_type_id: int = 2,
        pay_method: int = 1,
        route_label_field: str = ROUTE_LABEL_FIELD,
        duplicate_order_codes: frozenset[str] = DUPLICATE_ORDER_CODES,
        breaker: CircuitBreaker | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock_ms: Callable[[], int] = now_ms,
        new_request_id: Callable[[], str] = new_request_id,
    ) -> None:
        self._http = http
        self._partner_id, self._check_word = partner_id, check_word
        self._url = base_url
        self._template = template_code
        self._order_options: dict[str, Any] = {
            "monthly_card": monthly_card,
            "express_type_id": express_type_id,
            "pay_method": pay_method,
            "route_label_field": route_label_field,
        }
        self._duplicates = duplicate_order_codes
        self.breaker = breaker or CircuitBreaker(SOURCE)
        self._timeout = timeout
        self._clock_ms = clock_ms
        self._new_request_id = new_request_id

    def _call(
        self,
        build: Callable[..., dict[str, str]],
        interpret: Callable[[Any], Any],
        *args: Any,
        **options: Any,
    ) -> Any:
        form = build(
            self._partner_id,
            self._check_word,
            *args,
            timestamp_ms=self._clock_ms(),
            request_id=self._new_request_id(),
            **options,
        )
        return post_form(
            self._http,
            self._url,
            form,
            interpret,
            carrier=SOURCE,
            breaker=self.breaker,
            timeout=self._timeout,
        )

    def book(self, request: WaybillRequest) -> BookedWaybill:
        def interpret(body: Mapping[str, Any]) -> BookedWaybill:
            return parse_create_order_response(body, request)

        try:
            booked: BookedWaybill = self._call(
                build_create_order_request, interpret, request, **self._order_options
            )
        except CarrierRejected as refusal:
            if refusal.code not in self._duplicates:
                raise
            # Booked before (our answer was lost): SF keeps the first waybill for the orderId.
            booked = self._call(build_search_order_request, interpret, request.order_key)
        return replace(booked, label=self.reprint(booked))

    def cancel(self, waybill: BookedWaybill | WaybillRef, reason: str) -> None:
        # EXP_RECE_UPDATE_ORDER has no reason field; the reason stays in our audit trail.
        ref = waybill.ref if isinstance(waybill, BookedWaybill) else waybill
        self._call(build_cancel_request, parse_cancel_response, ref)

    def reprint(self, waybill: BookedWaybill) -> Label:
        files: list[PrintFile] = self._call(
            build_cloud_print_request,
            parse_cloud_print_response,
            [waybill.tracking_no],
            template_code=self._template,
        )
        return Label(pdf=self.download(files[0]), url=files[0].url)

    def download(self, file: PrintFile) -> bytes:
        self.breaker.before_call()
        try:
            response = self._http.get(
                file.url, headers={"X-Auth-token": file.token}, timeout=self._timeout
            )
        except httpx.RequestError as error:
            self.breaker.record_failure()
            raise CarrierUnavailable(SOURCE, f"transport error: {error!r}") from error
        try:
            content = parse_print_file(response)
        except CarrierUnavailable:
            self.breaker.record_failure()
            raise
        except CarrierRejected:
            self.breaker.record_success()
            raise
        self.breaker.record_success()
        return content
