"""Taobao and Tmall: taobao.logistics.offline.send through the TOP gateway, signed as TOP signs.

One call per parcel. A parcel that carries the whole order is sent without `is_split`; any
other carries `is_split=1` and the sub-order ids (oid) it holds in `sub_tid`
(docs/protocols.md, "Ship confirmation / Taobao and Tmall").
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
    Parcel,
    ShipConfirmation,
    carrier_for,
    post,
)

PLATFORM = "taobao"
METHOD = "taobao.logistics.offline.send"
# TOP company codes (taobao.logistics.companies.get). Only YTO appears in an example we
# have; the others are the codes in common use and unconfirmed (docs/protocols.md, "Ship
# confirmation / Carrier codes"). PORTAL_SHIP_CONFIRM_CARRIERS overrides any of them.
CARRIERS: CarrierTable = {
    "shunfeng": "SF",
    "zhongtong": "ZTO",
    "yuantong": "YTO",
    "yunda": "YUNDA",
    "shentong": "STO",
    "jd": "JD",
    "ems": "EMS",
    "youzhengguonei": "POSTB",
    "zhaijisong": "ZJS",
    "debangwuliu": "DBL",
    "jtexpress": "HTKY",
}
# TOP answers flow control with code 7 and its own faults with isp.* sub-codes; both pass.
RETRYABLE_CODES = frozenset({"7", "520"})


def _sub_tid(parcel: Parcel) -> str:
    oids = [line.channel_line_id for line in parcel.lines if line.channel_line_id]
    if len(oids) != len(parcel.lines):
        raise ConfirmationRefused("no_line_ids", "a split parcel needs every line's oid")
    return ",".join(dict.fromkeys(oids))


def build_offline_send(
    confirmation: ShipConfirmation,
    parcel: Parcel,
    carriers: CarrierTable,
    *,
    now: datetime | None = None,
    method: str = METHOD,
) -> dict[str, str]:
    """The signed form for one parcel (md5 signing, JSON answers)."""
    shop = confirmation.shop
    params = {
        "method": method,
        "app_key": shop.app_key,
        "session": shop.session_token,
        "timestamp": to_shanghai_text(now or utcnow()),
        "format": "json",
        "v": "2.0",
        "sign_method": "md5",
        "tid": confirmation.channel_order_no,
        "out_sid": parcel.waybill_no,
        "company_code": carrier_for(PLATFORM, carriers, parcel.carrier_code),
    }
    if not (confirmation.whole_order and len(confirmation.parcels) == 1):
        params |= {"is_split": "1", "sub_tid": _sub_tid(parcel)}
    return params | {"sign": sig.build_top_signature(params, shop.app_secret)}


def parse_offline_send(body: Mapping[str, Any]) -> ConfirmationAccepted:
    error = body.get("error_response")
    if isinstance(error, dict):
        code, sub_code = str(error.get("code", "")), str(error.get("sub_code") or "")
        message = str(error.get("sub_msg") or error.get("msg") or "")
        if code in RETRYABLE_CODES or sub_code.startswith("isp."):
            raise ChannelUnavailable(PLATFORM, f"{code} {sub_code} {message}".strip())
        raise ConfirmationRefused(sub_code or code or "error", message)
    answer = next((v for k, v in body.items() if k.endswith("_send_response")), None)
    shipping = answer.get("shipping") if isinstance(answer, dict) else None
    if isinstance(shipping, dict) and shipping.get("is_success") is True:
        return ConfirmationAccepted()
    if isinstance(shipping, dict):
        raise ConfirmationRefused("not_success", "shipping.is_success is not true")
    raise ChannelUnavailable(PLATFORM, "answer without a send response")


class TopShipClient:
    """Thin HTTP for TOP; the shop's api_base_url is the gateway (…/router/rest)."""

    platform = PLATFORM

    def __init__(self, http: httpx.Client, carriers: CarrierTable, method: str = METHOD) -> None:
        self.http, self.carriers, self.method = http, carriers, method

    def confirm(self, confirmation: ShipConfirmation) -> ConfirmationAccepted:
        accepted = ConfirmationAccepted()
        for parcel in confirmation.parcels:
            form = build_offline_send(confirmation, parcel, self.carriers, method=self.method)
            accepted = post(
                self.http, PLATFORM, confirmation.shop.api_base_url, parse_offline_send, data=form
            )
        return accepted
