"""JD POP: jingdong.pop.order.shipment (出库发货), signed as JD signs, parcels in one call.

Several parcels go in one call: carriers separated by `|`, several numbers of one carrier
by `,` (docs/protocols.md, "Ship confirmation / JD").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from backend.clock import to_shanghai_text, utcnow
from backend.orders.channels import signatures as sig
from backend.orders.channels.ship_confirm.base import (
    CarrierTable,
    ChannelUnavailable,
    ConfirmationAccepted,
    ConfirmationRefused,
    ShipConfirmation,
    carrier_for,
    compact_json,
    post,
)

PLATFORM = "jd"
METHOD = "jingdong.pop.order.shipment"
# logiCoprId values from one third-party list; JD says to read them from the merchant's
# carrier interface, so all are unconfirmed (docs/protocols.md, "Ship confirmation /
# Carrier codes").
CARRIERS: CarrierTable = {
    "zhongtong": "1499",
    "yunda": "1327",
    "shentong": "470",
    "yuantong": "463",
    "shunfeng": "467",
    "ems": "465",
    "debangwuliu": "3046",
    "jd": "2087",
}
# JD's gateway codes for throttling and its own faults (unconfirmed).
RETRYABLE_CODES = frozenset({"66", "67", "90", "95", "98"})


def _carriers_and_numbers(
    confirmation: ShipConfirmation, carriers: CarrierTable
) -> tuple[str, str]:
    grouped: dict[str, list[str]] = {}
    for parcel in confirmation.parcels:
        code = carrier_for(PLATFORM, carriers, parcel.carrier_code)
        grouped.setdefault(code, []).append(parcel.waybill_no)
    return "|".join(grouped), "|".join(",".join(numbers) for numbers in grouped.values())


def build_order_shipment(
    confirmation: ShipConfirmation,
    carriers: CarrierTable,
    *,
    now: datetime | None = None,
    method: str = METHOD,
) -> dict[str, str]:
    shop = confirmation.shop
    copr, numbers = _carriers_and_numbers(confirmation, carriers)
    business = {"orderId": confirmation.channel_order_no, "logiCoprId": copr, "logiNo": numbers}
    params = {
        "method": method,
        "app_key": shop.app_key,
        "access_token": shop.session_token,
        "timestamp": to_shanghai_text(now or utcnow(), "%Y-%m-%d %H:%M:%S.000+0800"),
        "v": "2.0",
        "360buy_param_json": compact_json(business),
    }
    return params | {"sign": sig.build_jd_signature(params, shop.app_secret)}


def parse_order_shipment(body: Mapping[str, Any]) -> ConfirmationAccepted:
    error = body.get("error_response")
    if isinstance(error, dict):
        code = str(error.get("code", ""))
        message = str(error.get("zh_desc") or error.get("en_desc") or "")
        if code in RETRYABLE_CODES:
            raise ChannelUnavailable(PLATFORM, f"{code} {message}")
        raise ConfirmationRefused(code or "error", message)
    answer = next((v for k, v in body.items() if k.startswith("jingdong_pop_order_shipment")), None)
    result = answer.get("sopjosshipment_result") if isinstance(answer, dict) else None
    if not isinstance(result, dict):
        raise ChannelUnavailable(PLATFORM, "answer without sopjosshipment_result")
    if result.get("success") is True:
        return ConfirmationAccepted()
    message = str(result.get("chineseErrCode") or result.get("englishErrCode") or "")
    raise ConfirmationRefused(str(result.get("errorCode") or "not_success"), message)


class JdShipClient:
    platform = PLATFORM

    def __init__(self, http: httpx.Client, carriers: CarrierTable, method: str = METHOD) -> None:
        self.http, self.carriers, self.method = http, carriers, method

    def confirm(self, confirmation: ShipConfirmation) -> ConfirmationAccepted:
        form = build_order_shipment(confirmation, self.carriers, method=self.method)
        return post(
            self.http, PLATFORM, confirmation.shop.api_base_url, parse_order_shipment, data=form
        )
