"""Kuaidi100 电子面单: book (method=order), cancel, reprint (printOld) on /label/order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from backend.logistics.carriers.kuaidi100 import API_BASE_URL, build_label_form, compact_json
from backend.logistics.waybills.base import (
    BookedWaybill,
    Label,
    Party,
    WaybillRef,
    WaybillRequest,
)
from backend.phones import normalize_mobile

SOURCE = "kuaidi100"
# Print types: docs/protocols.md, "Kuaidi100 e-waybill / Book". CLOUD prints on the
# merchant's 云打印机 (`siid`) and hands back only a task; IMAGE and HTML give a link.
PRINT_TYPES = frozenset({"NON", "IMAGE", "HTML", "CLOUD", "ORDERFIRST"})
# Sent at order time means needed again to cancel: docs/protocols.md, "Kuaidi100
# e-waybill / Cancel".
CANCEL_ACCOUNT_FIELDS = (
    "partnerId",
    "partnerKey",
    "partnerSecret",
    "partnerName",
    "net",
    "code",
    "checkMan",
    "expType",
)
# -1 is 服务器错误 and 500 the old family's server error; every other code (30001 参数错误,
# 30002 bad sign, 30003 bad key, 30004 no 面单余额, carrier refusals) is terminal:
# docs/protocols.md, "Kuaidi100 e-waybill / Error codes".
RETRYABLE_CODES = frozenset({"-1", "500"})
# Whether cancelling twice is refused is not documented; a refusal saying it is already
# cancelled is what we wanted anyway (docs/protocols.md, "Kuaidi100 e-waybill / Cancel").
ALREADY_CANCELLED = "已取消"


def _person(party: Party) -> dict[str, str]:
    mobile = normalize_mobile(party.phone)
    person = {"name": party.name}
    # One of mobile or tel is required; a landline (0571-...) goes in tel.
    person.update({"mobile": mobile} if mobile else {"tel": party.phone.strip()})
    person.update(
        printAddr=party.full_address,
        province=party.province,
        city=party.city,
        district=party.district,
        addr=party.street,
    )
    if party.company:
        person["company"] = party.company
    return person


def build_order_param(
    request: WaybillRequest,
    *,
    account: Mapping[str, Any],
    print_type: str = "IMAGE",
    printer_siid: str = "",
    poll_callback_url: str = "",
    salt: str = "",
) -> dict[str, Any]:
    """The `param` object for method=order; `account` holds the carrier's e-waybill fields
    (partnerId, partnerKey, ..., tempId, expType, payType), sent as they are configured."""
    if print_type not in PRINT_TYPES:
        raise ValueError(f"unknown Kuaidi100 printType {print_type!r}")
    param: dict[str, Any] = {"printType": print_type, "kuaidicom": request.carrier_code}
    param.update({"payType": "MONTHLY"})
    param.update(account)
    param["recMan"] = _person(request.recipient)
    param["sendMan"] = _person(request.sender)
    param["cargo"] = request.cargo_name
    param["count"] = request.total_quantity
    if request.weight_grams is not None:
        param["weight"] = round(request.weight_grams / 1000, 3)  # Kuaidi100 wants kg
    if request.remark:
        param["remark"] = request.remark
    # orderId with reorder=false: the same order key within 48 h returns the first answer
    # instead of burning a second number (docs/protocols.md, "Kuaidi100 e-waybill / Book").
    param["orderId"] = request.order_key
    param["reorder"] = False
    if print_type in ("CLOUD", "ORDERFIRST"):
        param["siid"] = printer_siid
    if poll_callback_url:
        param["needSubscribe"] = True
        param["pollCallBackUrl"] = poll_callback_url
        if salt:
            param["salt"] = salt
    return param


def build_order_request(
    key: str, secret: str, request: WaybillRequest, *, timestamp_ms: int, **options: Any
) -> dict[str, str]:
    """Form fields for POST /label/order method=order; `options` go to build_order_param."""
    param = build_order_param(request, **options)
    return build_label_form("order", key, secret, compact_json(param), timestamp_ms)


def _refuse_unless_success(body: Mapping[str, Any]) -> Mapping[str, Any]:
    code = str(body.get("code") if body.get("code") is not None else "").strip()
    message = str(body.get("message") or "")
    if code == "200" and body.get("success") is not False:
        return body
    if code in RETRYABLE_CODES:
        raise CarrierUnavailable(SOURCE, f"{code} {message}")
    raise CarrierRejected(SOURCE, code or None, message)


def parse_order_response(
    body: Mapping[str, Any], request: WaybillRequest, *, print_type: str = "IMAGE"
) -> BookedWaybill:
    """The booked waybill; `kdComOrderNum` is kept because cancelling needs it back."""
    data = _refuse_unless_success(body).get("data")
    if not isinstance(data, Mapping) or not str(data.get("kuaidinum") or "").strip():
        raise MalformedPayload("kuaidi100 order answer has no data.kuaidinum")
    children = tuple(
        number.strip() for number in str(data.get("childNum") or "").split(",") if number.strip()
    )
    label = Label(
        url=str(data.get("label") or "") or None,
        print_task_id=str(data.get("taskId") or "") or None,
        printed=print_type == "CLOUD",
    )
    return BookedWaybill(
        carrier_code=request.carrier_code,
        tracking_no=str(data["kuaidinum"]).strip(),
        order_key=request.order_key,
        label=label,
        provider_order_id=str(data.get("kdComOrderNum") or "") or None,
        child_numbers=children,
    )


def build_cancel_request(
    key: str,
    secret: str,
    waybill: WaybillRef,
    *,
    account: Mapping[str, Any],
    reason: str,
    timestamp_ms: int,
) -> dict[str, str]:
    """Form fields for method=cancel: the account fields sent at order time, and `orderId`,
    which here is the carrier's order number (`kdComOrderNum`), not ours."""
    param: dict[str, Any] = {"kuaidicom": waybill.carrier_code, "kuaidinum": waybill.tracking_no}
    param.update({name: account[name] for name in CANCEL_ACCOUNT_FIELDS if account.get(name)})
    if waybill.provider_order_id:
        param["orderId"] = waybill.provider_order_id
    if reason:
        param["reason"] = reason
    return build_label_form("cancel", key, secret, compact_json(param), timestamp_ms)


def parse_cancel_response(body: Mapping[str, Any]) -> None:
    try:
        _refuse_unless_success(body)
    except CarrierRejected as refusal:
        if ALREADY_CANCELLED not in refusal.message:
            raise


def build_reprint_request(
    key: str, secret: str, task_id: str, *, timestamp_ms: int, printer_siid: str = ""
) -> dict[str, str]:
    """Form fields for method=printOld: the order's taskId, within 2 days and 10 times."""
    param = {"taskId": task_id}
    if printer_siid:
        param["siid"] = printer_siid
    return build_label_form("printOld", key, secret, compact_json(param), timestamp_ms)


def parse_reprint_response(body: Mapping[str, Any], task_id: str) -> Label:
    _refuse_unless_success(body)
    return Label(print_task_id=task_id, printed=True)


def parse_label_download(response: httpx.Response) -> bytes:
    """The label file behind the short link. The link is made asynchronously, so a miss
    right after booking is "not yet" and retryable (docs/protocols.md, "Kuaidi100
    e-waybill / Book")."""
    content_type = response.headers.get("content-type", "")
    looks_like_file = response.content.startswith(b"%PDF") or content_type.startswith("image/")
    if response.status_code == 200 and looks_like_file:
        return response.content
    if response.status_code in (200, 404) or response.status_code >= 500:
        raise CarrierUnavailable(SOURCE, f"label not ready (HTTP {response.status_code})")
    raise CarrierRejected(SOURCE, None, response.text[:200], response.status_code)


class Kuaidi100WaybillClient:
    """The HTTP side of the e-waybill adapter; every answer goes through the functions above."""

    provider = SOURCE

    def __init__(
        self,
        http: httpx.Client,
        *,
        key: str,
        secret: str,
        accounts: Mapping[str, Mapping[str, Any]],
        api_base_url: str = API_BASE_URL,
        print_type: str = "IMAGE",
        printer_siid: str = "",
        poll_callback_url: str = "",
        salt: str = "",
        breaker: CircuitBreaker | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._http = http
        self._key, self._secret = key, secret
        self._accounts = {code: dict(account) for code, account in accounts.items()}
        self._url = api_base_url.rstrip("/") + "/label/order"
        self._print_type, self._siid = print_type, printer_siid
        self._poll_callback_url, self._salt = poll_callback_url, salt
        self.breaker = breaker or CircuitBreaker(SOURCE)
        self._timeout = timeout
        self._clock_ms = clock_ms

    def _post(self, form: Mapping[str, str], interpret: Callable[[Any], Any]) -> Any:
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
        form = build_order_request(
            self._key,
            self._secret,
            request,
            timestamp_ms=self._clock_ms(),
            account=self._accounts.get(request.carrier_code, {}),
            print_type=self._print_type,
            printer_siid=self._siid,
            poll_callback_url=self._poll_callback_url,
            salt=self._salt,
        )
        booked: BookedWaybill = self._post(
            form, lambda body: parse_order_response(body, request, print_type=self._print_type)
        )
        return booked

    def cancel(self, waybill: BookedWaybill | WaybillRef, reason: str) -> None:
        ref = waybill.ref if isinstance(waybill, BookedWaybill) else waybill
        form = build_cancel_request(
            self._key,
            self._secret,
            ref,
            account=self._accounts.get(ref.carrier_code, {}),
            reason=reason,
            timestamp_ms=self._clock_ms(),
        )
        self._post(form, parse_cancel_response)

    def reprint(self, waybill: BookedWaybill) -> Label:
        """On a cloud printer: printOld. Otherwise the label file, downloaded again."""
        task_id = waybill.label.print_task_id
        if self._siid and task_id:
            form = build_reprint_request(
                self._key,
                self._secret,
                task_id,
                timestamp_ms=self._clock_ms(),
                printer_siid=self._siid,
            )
            label: Label = self._post(form, lambda body: parse_reprint_response(body, task_id))
            return label
        if not waybill.label.url:
            raise CarrierRejected(SOURCE, None, "no label link and no cloud printer to reprint on")
        return Label(pdf=self.download_label(waybill.label.url), url=waybill.label.url)

    def download_label(self, url: str) -> bytes:
        self.breaker.before_call()
        try:
            response = self._http.get(url, timeout=self._timeout)
        except httpx.RequestError as error:
            self.breaker.record_failure()
            raise CarrierUnavailable(SOURCE, f"transport error: {error!r}") from error
        try:
            content = parse_label_download(response)
        except CarrierUnavailable:
            # Only a 5xx says Kuaidi100 is down; a label not made yet proves it is up.
            if response.status_code >= 500:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()
            raise
        except CarrierRejected:
            self.breaker.record_success()
            raise
        self.breaker.record_success()
        return content
