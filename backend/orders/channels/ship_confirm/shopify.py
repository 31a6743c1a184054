"""Shopify: fulfillmentCreate (Admin GraphQL) with tracking info, one fulfillment per parcel.

Shopify fulfils fulfillment-order line items, not order lines, so the order's fulfillment
orders are read first; that read also shows fulfillments already made with our number
(a repeat after a lost answer), since fulfillmentCreate takes no idempotency key
(docs/protocols.md, "Ship confirmation / Shopify").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from backend.orders.channels.ship_confirm.base import (
    CarrierTable,
    ChannelUnavailable,
    ConfirmationAccepted,
    ConfirmationRefused,
    Parcel,
    ShipConfirmation,
    post,
)

PLATFORM = "shopify"
API_VERSION = "2025-10"
# Shopify's tracking company names must match its list exactly to get a tracking link;
# these are unconfirmed (its China section was not read), and an unknown carrier is sent
# by our code with our tracking page as the url (docs/protocols.md, "Ship confirmation /
# Carrier codes").
CARRIERS: CarrierTable = {
    "shunfeng": "SF Express",
    "zhongtong": "ZTO Express",
    "yuantong": "YTO Express",
    "yunda": "Yunda Express",
    "shentong": "STO Express",
    "jd": "JD Logistics",
    "ems": "China EMS",
    "youzhengguonei": "China Post",
}

FULFILLMENT_ORDERS = """query($id: ID!) { order(id: $id) {
  fulfillments(first: 50) { trackingInfo { number } }
  fulfillmentOrders(first: 20) { nodes { id status
    lineItems(first: 100) { nodes { id remainingQuantity lineItem { id } } } } } } }"""

FULFILLMENT_CREATE = """mutation($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status } userErrors { field message } } }"""


def order_gid(number: str) -> str:
    return number if number.startswith("gid://") else f"gid://shopify/Order/{number}"


def line_gid(number: str) -> str:
    return number if number.startswith("gid://") else f"gid://shopify/LineItem/{number}"


def build_fulfillment_orders_query(confirmation: ShipConfirmation) -> dict[str, object]:
    return {
        "query": FULFILLMENT_ORDERS,
        "variables": {"id": order_gid(confirmation.channel_order_no)},
    }


def _data(body: Mapping[str, Any]) -> Mapping[str, Any]:
    errors = body.get("errors")
    if errors:
        text = str(errors)
        if "THROTTLED" in text or "Throttled" in text:
            raise ChannelUnavailable(PLATFORM, "throttled")
        status = body.get("_http_status", 200)
        raise ConfirmationRefused(f"http_{status}" if status != 200 else "graphql", text[:300])
    data = body.get("data")
    if not isinstance(data, dict):
        raise ChannelUnavailable(PLATFORM, "answer without data")
    return data


def parse_fulfillment_orders(body: Mapping[str, Any]) -> dict[str, Any]:
    """{"numbers": tracking numbers already sent, "open": [(fo id, fo line id, line id, qty)]}."""
    order = _data(body).get("order")
    if not isinstance(order, dict):
        raise ConfirmationRefused("order_not_found", "Shopify has no such order")
    numbers = {
        str(info.get("number"))
        for fulfillment in order.get("fulfillments") or []
        for info in fulfillment.get("trackingInfo") or []
    }
    open_items = [
        (node["id"], item["id"], item["lineItem"]["id"], int(item["remainingQuantity"]))
        for node in (order.get("fulfillmentOrders") or {}).get("nodes", [])
        if node.get("status") in ("OPEN", "IN_PROGRESS")
        for item in node.get("lineItems", {}).get("nodes", [])
        if int(item.get("remainingQuantity", 0)) > 0
    ]
    return {"numbers": numbers, "open": open_items}


def build_fulfillment_create(
    confirmation: ShipConfirmation,
    parcel: Parcel,
    open_items: list[tuple[str, str, str, int]],
    carriers: CarrierTable,
) -> dict[str, object]:
    """The mutation for one parcel: its lines matched to open fulfillment-order line items."""
    by_order: dict[str, list[dict[str, object]]] = {}
    for line in parcel.lines:
        if line.channel_line_id is None:
            raise ConfirmationRefused("no_line_ids", "a line has no Shopify line item id")
        wanted, gid = line.quantity, line_gid(line.channel_line_id)
        for fo_id, item_id, line_item, remaining in open_items:
            if line_item == gid and wanted > 0:
                take = min(wanted, remaining)
                by_order.setdefault(fo_id, []).append({"id": item_id, "quantity": take})
                wanted -= take
        if wanted:
            raise ConfirmationRefused(
                "nothing_to_fulfil", f"line {line.channel_line_id} is fulfilled"
            )
    tracking: dict[str, object] = {
        "company": carriers.get(parcel.carrier_code, parcel.carrier_code),
        "number": parcel.waybill_no,
    }
    if confirmation.tracking_url:
        tracking["url"] = confirmation.tracking_url
    fulfillment = {
        "lineItemsByFulfillmentOrder": [
            {"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": items}
            for fo_id, items in by_order.items()
        ],
        "trackingInfo": tracking,
        "notifyCustomer": False,  # the portal tells the customer itself
    }
    return {"query": FULFILLMENT_CREATE, "variables": {"fulfillment": fulfillment}}


def parse_fulfillment_create(body: Mapping[str, Any]) -> ConfirmationAccepted:
    payload = _data(body).get("fulfillmentCreate")
    if not isinstance(payload, dict):
        raise ChannelUnavailable(PLATFORM, "answer without fulfillmentCreate")
    errors = payload.get("userErrors") or []
    if errors:
        message = "; ".join(str(error.get("message")) for error in errors)
        raise ConfirmationRefused("user_errors", message)
    fulfillment = payload.get("fulfillment") or {}
    return ConfirmationAccepted(str(fulfillment.get("id", "")))


class ShopifyShipClient:
    """The shop's api_base_url is https://<shop>.myshopify.com; its session token the token."""

    platform = PLATFORM

    def __init__(
        self, http: httpx.Client, carriers: CarrierTable, api_version: str = API_VERSION
    ) -> None:
        self.http, self.carriers, self.api_version = http, carriers, api_version

    def _graphql(
        self, confirmation: ShipConfirmation, query: dict[str, object], interpret: Any
    ) -> Any:
        shop = confirmation.shop
        url = f"{shop.api_base_url.rstrip('/')}/admin/api/{self.api_version}/graphql.json"
        headers = {"X-Shopify-Access-Token": shop.session_token}
        return post(self.http, PLATFORM, url, interpret, json=query, headers=headers)

    def confirm(self, confirmation: ShipConfirmation) -> ConfirmationAccepted:
        query = build_fulfillment_orders_query(confirmation)
        state = self._graphql(confirmation, query, parse_fulfillment_orders)
        accepted = ConfirmationAccepted()
        for parcel in confirmation.parcels:
            if parcel.waybill_no in state["numbers"]:
                accepted = ConfirmationAccepted(already_shipped=True)
                continue
            mutation = build_fulfillment_create(confirmation, parcel, state["open"], self.carriers)
            accepted = self._graphql(confirmation, mutation, parse_fulfillment_create)
        return accepted
