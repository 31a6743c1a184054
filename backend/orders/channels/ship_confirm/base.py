"""What every ship-confirmation adapter shares: the request, the outcome, errors, carrier codes."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx

from backend.orders.shops import ShopConfig

# Every call has a deadline: a platform that hangs must not hold a worker for ever.
TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class ChannelUnavailable(Exception):
    """The platform could not answer (transport, 5xx, flow control, busy): try again later."""

    def __init__(self, platform: str, reason: str) -> None:
        super().__init__(f"{platform}: {reason}")
        self.platform, self.reason = platform, reason


class ConfirmationRefused(Exception):
    """The platform answered no; retrying the same request will not help until someone acts."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class CarrierNotMapped(ConfirmationRefused):
    """Our carrier code has no code on this platform; the carrier table needs an entry."""

    def __init__(self, platform: str, carrier_code: str) -> None:
        super().__init__(
            "carrier_not_mapped", f"no {platform} logistics code for carrier {carrier_code!r}"
        )


@dataclass(frozen=True)
class ShippedLine:
    # The platform's line id (Taobao oid, Shopify line item id, Douyin sub-order id); None
    # for orders whose channel never sent one.
    channel_line_id: str | None
    sku: str
    quantity: int


@dataclass(frozen=True)
class Parcel:
    carrier_code: str  # our (Kuaidi100) company code: "shunfeng", "zhongtong" ...
    waybill_no: str
    lines: tuple[ShippedLine, ...]


@dataclass(frozen=True)
class ShipConfirmation:
    """Everything one confirmation call needs; built by the fulfilment service, frozen."""

    shop: ShopConfig
    channel_order_no: str
    parcels: tuple[Parcel, ...]
    # The parcels carry every line of the order in full: no split shipment.
    whole_order: bool
    # Deterministic per shipment; sent where the platform takes one (Douyin request_id).
    idempotency_key: str
    # False once an earlier parcel of the same order was confirmed (PDD redelivery, JD).
    first_for_order: bool = True
    tracking_url: str | None = None


@dataclass(frozen=True)
class ConfirmationAccepted:
    reference: str = ""  # the platform's id of what it made (Shopify fulfillment, pack ids)
    # The platform said this order was already shipped with this waybill (a repeat).
    already_shipped: bool = False


class ShipConfirmer(Protocol):
    platform: str

    def confirm(self, confirmation: ShipConfirmation) -> ConfirmationAccepted: ...


CarrierTable = Mapping[str, str]
_T = TypeVar("_T")


def carrier_for(platform: str, table: CarrierTable, carrier_code: str) -> str:
    """The platform's code for our carrier; never guessed (CarrierNotMapped)."""
    code = table.get(carrier_code)
    if not code:
        raise CarrierNotMapped(platform, carrier_code)
    return code


def merge_carriers(
    defaults: Mapping[str, CarrierTable], overrides: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """Per platform, the built-in table with the configured entries laid over it."""
    platforms = set(defaults) | set(overrides)
    return {p: {**defaults.get(p, {}), **overrides.get(p, {})} for p in sorted(platforms)}


def parse_carrier_overrides(text: str) -> dict[str, dict[str, str]]:
    """ "pinduoduo:zhongtong=115,taobao:jtexpress=JTSD" -> {platform: {ours: theirs}}."""
    table: dict[str, dict[str, str]] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        platform, colon, carrier = key.strip().partition(":")
        if sep and colon and platform and carrier.strip() and value.strip():
            table.setdefault(platform, {})[carrier.strip()] = value.strip()
    return table


def post(
    http: httpx.Client,
    platform: str,
    url: str,
    interpret: Callable[[Mapping[str, Any]], _T],
    **request: Any,
) -> _T:
    """One POST; transport errors, 429 and 5xx are ChannelUnavailable, the rest is parsed."""
    try:
        response = http.post(url, timeout=TIMEOUT, **request)
    except httpx.HTTPError as error:
        raise ChannelUnavailable(platform, type(error).__name__) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ChannelUnavailable(platform, f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        if response.status_code >= 400:
            raise ConfirmationRefused(f"http_{response.status_code}", response.text[:200]) from None
        raise ChannelUnavailable(platform, "answer is not JSON") from None
    if not isinstance(body, dict):
        raise ChannelUnavailable(platform, "answer is not a JSON object")
    return interpret(body | {"_http_status": response.status_code})


def compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
