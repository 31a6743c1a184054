"""Pinduoduo: pdd.logistics.online.send, one waybill per order, signed as PDD signs.

PDD takes one tracking number per order. The first parcel is sent as 首次发货
(redelivery_type 1); the fulfilment service does not send later parcels of the same order
(docs/protocols.md, "Ship confirmation / Pinduoduo").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from backend.clock import utcnow
from backend.orders.channels import signatures as sig
from backend.orders.channels.ship_confirm.base import (
    CarrierTable,
    ChannelUnavailable,
    ConfirmationAccepted,
    ConfirmationRefused,
    ShipConfirmation,
    carrier_for,
    post,
)

PLATFORM = "pinduoduo"
METHOD = "pdd.logistics.online.send"
# PDD logistics_id values come from pdd.logistics.companies.get; only 121 (韵达) was seen,
# in one script. The rest are unconfirmed and must be checked against the shop's own
# company list (docs/protocols.md, "Ship confirmation / Carrier codes").
CARRIERS: CarrierTable = {
    "yunda": "121",
    "zhongtong": "115",
    "yuantong": "85",
    "shentong": "1",
    "shunfeng": "44",
    "ems": "118",
    "jd": "120",
}
# Error codes PDD answers when busy or throttled: unconfirmed (none were found documented).
RETRYABLE_CODES = frozenset({"70031", "70032", "70033", "50000", "50001"})


def build_online_send(
    confirmation: ShipConfirmation,
    carriers: CarrierTable,
    *,
    now: datetime | None = None,
    method: str = METHOD,
) -> dict[str, str]:
    parcel = confirmation.parcels[0]
    shop = confirmation.shop
    params = {
        "type": method,
        "client_id": shop.app_key,
        "access_token": shop.session_token,
        "timestamp": str(int((now or utcnow()).timestamp())),
        "data_type": "JSON",
        "version": "V1",
        "order_sn": confirmation.channel_order_no,
        "logistics_id": carrier_for(PLATFORM, carriers, parcel.carrier_code),
        "tracking_number": parcel.waybill_no,
        "redelivery_type": "1" if confirmation.first_for_order else "2",
    }
    return params | {"sign": sig.build_pdd_signature(params, shop.app_secret)}


def parse_online_send(body: Mapping[str, Any]) -> ConfirmationAccepted:
    error = body.get("error_response")
    if isinstance(error, dict):
        code = str(error.get("error_code", ""))
        message = str(error.get("sub_msg") or error.get("error_msg") or "")
        if code in RETRYABLE_CODES:
            raise ChannelUnavailable(PLATFORM, f"{code} {message}")
        raise ConfirmationRefused(str(error.get("sub_code") or code or "error"), message)
    answer = body.get("logistics_online_send_response")
    if isinstance(answer, dict) and answer.get("is_success") is True:
        return ConfirmationAccepted()
    if isinstance(answer, dict):
        raise ConfirmationRefused("not_success", "is_success is not true")
    raise ChannelUnavailable(PLATFORM, "answer without logistics_online_send_response")


class PddShipClient:
    platform = PLATFORM

    def __init__(self, http: httpx.Client, carriers: CarrierTable, method: str = METHOD) -> None:
        self.http, self.carriers, self.method = http, carriers, method

    def confirm(self, confirmation: ShipConfirmation) -> ConfirmationAccepted:
        form = build_online_send(confirmation, self.carriers, method=self.method)
        return post(
            self.http, PLATFORM, confirmation.shop.api_base_url, parse_online_send, data=form
        )
