"""Douyin 抖店: order.logisticsAdd for a whole order, order.logisticsAddMultiPack otherwise.

logisticsAdd ships the parent order in one parcel. A split shipment, or several parcels,
goes through logisticsAddMultiPack, whose request_id makes a repeat return the first
success instead of shipping again (docs/protocols.md, "Ship confirmation / Douyin").
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
    post,
)

PLATFORM = "douyin"
WHOLE_ORDER = "order.logisticsAdd"
MULTI_PACK = "order.logisticsAddMultiPack"
# Douyin's company codes (order.logisticsCompanyList) are pinyin like Kuaidi100's: the
# example uses "yuantong" and "shunfeng"; the rest are unconfirmed (docs/protocols.md,
# "Ship confirmation / Carrier codes").
CARRIERS: CarrierTable = {
    code: code for code in ("shunfeng", "zhongtong", "yuantong", "yunda", "shentong", "jd", "ems")
}
SUCCESS = 10000
# Douyin's own faults (isp.service-error) and 风控审核中 (clears in an hour or two): later.
RETRYABLE_SUB_CODES = frozenset({"60109"})
# 订单已发货: a repeat after a lost answer; accepted once the number is ours (the caller
# sent it).
ALREADY_SHIPPED = frozenset({"60110", "70023"})


def _sub_code(text: str) -> str:
    """ "isv.business-failed:60018" -> "60018"; a bare code stays as it is."""
    return text.rsplit(":", 1)[-1]


def build_business(
    confirmation: ShipConfirmation, carriers: CarrierTable
) -> tuple[str, dict[str, object]]:
    """(method, business parameters) for the confirmation."""
    parcels = confirmation.parcels
    if confirmation.whole_order and len(parcels) == 1:
        parcel = parcels[0]
        return WHOLE_ORDER, {
            "order_id": confirmation.channel_order_no,
            "company_code": carrier_for(PLATFORM, carriers, parcel.carrier_code),
            "logistics_code": parcel.waybill_no,
        }
    packs = []
    for parcel in parcels:
        if any(line.channel_line_id is None for line in parcel.lines):
            raise ConfirmationRefused("no_line_ids", "a split parcel needs every sub-order id")
        packs.append(
            {
                "company_code": carrier_for(PLATFORM, carriers, parcel.carrier_code),
                "logistics_code": parcel.waybill_no,
                "shipped_order_info": [
                    {"shipped_order_id": line.channel_line_id, "shipped_num": line.quantity}
                    for line in parcel.lines
                ],
            }
        )
    return MULTI_PACK, {
        "order_id": confirmation.channel_order_no,
        "pack_list": packs,
        "request_id": confirmation.idempotency_key,
    }


def build_request(
    confirmation: ShipConfirmation, carriers: CarrierTable, *, now: datetime | None = None
) -> tuple[str, dict[str, str]]:
    """(path, signed query parameters); param_json is also the body that is sent."""
    method, business = build_business(confirmation, carriers)
    shop = confirmation.shop
    param_json = sig.build_douyin_param_json(business)
    timestamp = to_shanghai_text(now or utcnow())
    params = {
        "method": method,
        "app_key": shop.app_key,
        "param_json": param_json,
        "timestamp": timestamp,
        "v": "2",
        "sign_method": "md5",
        "access_token": shop.session_token,
    }
    params["sign"] = sig.build_douyin_signature(
        shop.app_key, method, param_json, timestamp, shop.app_secret
    )
    return "/" + method.replace(".", "/"), params


def parse_response(body: Mapping[str, Any]) -> ConfirmationAccepted:
    code = body.get("code")
    if code == SUCCESS:
        data = body.get("data")
        packs = data.get("pack_list") if isinstance(data, dict) else None
        ids = [str(p.get("pack_id")) for p in packs or [] if isinstance(p, dict)]
        return ConfirmationAccepted(",".join(ids))
    sub_code = _sub_code(str(body.get("sub_code") or ""))
    message = str(body.get("sub_msg") or body.get("msg") or "")
    if sub_code in ALREADY_SHIPPED:
        return ConfirmationAccepted(already_shipped=True)
    if code == 20000 or sub_code in RETRYABLE_SUB_CODES or code is None:
        raise ChannelUnavailable(PLATFORM, f"{code} {sub_code} {message}".strip())
    raise ConfirmationRefused(sub_code or str(code), message)


class DouyinShipClient:
    platform = PLATFORM

    def __init__(self, http: httpx.Client, carriers: CarrierTable) -> None:
        self.http, self.carriers = http, carriers

    def confirm(self, confirmation: ShipConfirmation) -> ConfirmationAccepted:
        path, params = build_request(confirmation, self.carriers)
        url = confirmation.shop.api_base_url.rstrip("/") + path
        query = {name: value for name, value in params.items() if name != "param_json"}
        return post(
            self.http,
            PLATFORM,
            url,
            parse_response,
            params=query,
            content=params["param_json"].encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
