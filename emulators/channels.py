"""Loopback sales platforms for ship confirmation: TOP, PDD, JD, Douyin and Shopify GraphQL.

Each checks the signature (or the Shopify access token) and the required fields, records
what it was told in `confirmations`, and can be told to refuse an order (the platform's
own error shape with a message) or to be down (HTTP 503). Serve one with
emulators/serving.py `serve_in_thread(emulator.app)`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.orders.channels import signatures as sig


@dataclass(frozen=True)
class Recorded:
    shop: str  # the app key (Shopify: the access token) that made the call
    order_no: str
    carrier: str
    waybill: str
    lines: tuple[tuple[str, int], ...] = ()  # (the platform's line id, quantity)


@dataclass
class ChannelEmulator:
    """One platform. `shops` maps each app key (Shopify: access token) to its app secret."""

    platform: str
    shops: dict[str, str]
    confirmations: list[Recorded] = field(default_factory=list)
    refusals: dict[str, tuple[str, str]] = field(default_factory=dict)
    down: bool = False
    calls: int = 0
    # Shopify only: order id -> {line item id: quantity still to fulfil}.
    shopify_orders: dict[str, dict[str, int]] = field(default_factory=dict)
    _replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, order_no: str, code: str, message: str) -> None:
        self.refusals[order_no] = (code, message)

    def accept(self, order_no: str) -> None:
        self.refusals.pop(order_no, None)

    def _record(self, entry: Recorded) -> None:
        with self._lock:
            self.confirmations.append(entry)

    def shipped(self, order_no: str) -> list[Recorded]:
        return [entry for entry in self.confirmations if entry.order_no == order_no]

    @property
    def app(self) -> Starlette:
        routes = {
            "taobao": [Route("/router/rest", self._top, methods=["POST"])],
            "pinduoduo": [Route("/api/router", self._pdd, methods=["POST"])],
            "jd": [Route("/routerjson", self._jd, methods=["POST"])],
            "douyin": [Route("/order/{name}", self._douyin, methods=["POST"])],
            "shopify": [
                Route("/admin/api/{version}/graphql.json", self._shopify, methods=["POST"])
            ],
        }[self.platform]
        return Starlette(routes=routes)

    async def _form(self, request: Request) -> dict[str, str]:
        form = await request.form()
        return {key: str(value) for key, value in form.items()}

    def _unavailable(self) -> Response | None:
        self.calls += 1
        return Response("service unavailable", 503) if self.down else None

    # --- Taobao / Tmall (TOP) ---------------------------------------------------------

    async def _top(self, request: Request) -> Response:
        if (down := self._unavailable()) is not None:
            return down
        params = await self._form(request)
        secret = self.shops.get(params.get("app_key", ""))
        if secret is None or not sig.verify_top_signature(params, secret):
            return _top_error("25", "Invalid signature")
        missing = [n for n in ("session", "tid", "out_sid", "company_code") if not params.get(n)]
        if params.get("is_split") == "1" and not params.get("sub_tid"):
            missing.append("sub_tid")
        if missing or params.get("method") != "taobao.logistics.offline.send":
            return _top_error("41", "Invalid arguments", "isv.missing-parameter", str(missing))
        tid = params["tid"]
        if tid in self.refusals:
            return _top_error("15", "Remote service error", *self.refusals[tid])
        if any(entry.waybill == params["out_sid"] for entry in self.shipped(tid)):
            return _top_error("15", "Remote service error", "isv.logistics-offline-service-error",
                              "订单已发货")  # fmt: skip
        lines = tuple((oid, 0) for oid in params.get("sub_tid", "").split(",") if oid)
        self._record(
            Recorded(params["app_key"], tid, params["company_code"], params["out_sid"], lines)
        )
        return JSONResponse({"logistics_offline_send_response": {"shipping": {"is_success": True}}})

    # --- Pinduoduo --------------------------------------------------------------------

    async def _pdd(self, request: Request) -> Response:
        if (down := self._unavailable()) is not None:
            return down
        params = await self._form(request)
        secret = self.shops.get(params.get("client_id", ""))
        if secret is None or not sig.verify_pdd_signature(params, secret):
            return _pdd_error("10016", "签名错误")
        required = ("access_token", "order_sn", "logistics_id", "tracking_number")
        if params.get("type") != "pdd.logistics.online.send" or not all(
            params.get(name) for name in required
        ):
            return _pdd_error("10000", "参数错误")
        order_sn = params["order_sn"]
        if order_sn in self.refusals:
            return _pdd_error(*self.refusals[order_sn])
        self._record(
            Recorded(
                params["client_id"], order_sn, params["logistics_id"], params["tracking_number"]
            )
        )
        return JSONResponse({"logistics_online_send_response": {"is_success": True}})

    # --- JD ---------------------------------------------------------------------------

    async def _jd(self, request: Request) -> Response:
        if (down := self._unavailable()) is not None:
            return down
        params = await self._form(request)
        secret = self.shops.get(params.get("app_key", ""))
        if secret is None or not sig.verify_jd_signature(params, secret):
            return JSONResponse({"error_response": {"code": "19", "zh_desc": "签名错误"}})
        try:
            business = json.loads(params.get("360buy_param_json", ""))
        except ValueError:
            business = {}
        order_id = str(business.get("orderId") or "")
        copr, numbers = str(business.get("logiCoprId") or ""), str(business.get("logiNo") or "")
        if params.get("method") != "jingdong.pop.order.shipment" or not (order_id and copr):
            return JSONResponse({"error_response": {"code": "62", "zh_desc": "缺少参数"}})
        if order_id in self.refusals:
            code, message = self.refusals[order_id]
            result = {"success": False, "errorCode": code, "chineseErrCode": message}
        else:
            for carrier, waybills in zip(copr.split("|"), numbers.split("|"), strict=False):
                for waybill in waybills.split(","):
                    self._record(Recorded(params["app_key"], order_id, carrier, waybill))
            result = {"success": True}
        key = "jingdong_pop_order_shipment_responce"
        return JSONResponse({key: {"code": "0", "sopjosshipment_result": result}})

    # --- Douyin -----------------------------------------------------------------------

    async def _douyin(self, request: Request) -> Response:
        if (down := self._unavailable()) is not None:
            return down
        params = dict(request.query_params)
        params["param_json"] = (await request.body()).decode("utf-8")
        method = "order." + request.path_params["name"]
        secret = self.shops.get(params.get("app_key", ""))
        if (
            secret is None
            or params.get("method") != method
            or not sig.verify_douyin_signature(params, secret)
        ):
            return _douyin_error(40003, "isv.invalid-signature", "签名校验失败")
        business = json.loads(params["param_json"])
        order_id = str(business.get("order_id") or "")
        if method == "order.logisticsAdd":
            return self._douyin_whole(params["app_key"], order_id, business)
        if method == "order.logisticsAddMultiPack":
            return self._douyin_packs(params["app_key"], order_id, business)
        return _douyin_error(40001, "isv.method-not-found", "方法不存在")

    def _douyin_whole(self, app_key: str, order_id: str, business: Mapping[str, Any]) -> Response:
        if not (order_id and business.get("company_code") and business.get("logistics_code")):
            return _douyin_error(40002, "isv.missing-parameter", "缺少参数")
        if order_id in self.refusals:
            return _douyin_error(50002, *self.refusals[order_id])
        if self.shipped(order_id):
            return _douyin_error(50002, "isv.business-failed:60110", "订单已发货")
        carrier, waybill = str(business["company_code"]), str(business["logistics_code"])
        self._record(Recorded(app_key, order_id, carrier, waybill))
        return JSONResponse({"code": 10000, "msg": "success", "data": {}})

    def _douyin_packs(self, app_key: str, order_id: str, business: Mapping[str, Any]) -> Response:
        request_id = str(business.get("request_id") or "")
        if not request_id:
            return _douyin_error(40002, "isv.missing-parameter:50050", "requestId为空")
        if request_id in self._replies:  # the first success, as Douyin answers a repeat
            return JSONResponse(self._replies[request_id])
        packs = business.get("pack_list") or []
        if not order_id or not packs or not all(p.get("company_code") for p in packs):
            return _douyin_error(40002, "isv.missing-parameter", "缺少参数")
        if order_id in self.refusals:
            return _douyin_error(50002, *self.refusals[order_id])
        answer = []
        for index, pack in enumerate(packs):
            lines = tuple(
                (str(item["shipped_order_id"]), int(item.get("shipped_num") or 0))
                for item in pack.get("shipped_order_info") or []
            )
            carrier, waybill = str(pack["company_code"]), str(pack["logistics_code"])
            self._record(Recorded(app_key, order_id, carrier, waybill, lines))
            answer.append({"pack_id": f"{request_id}-{index}", "logistics_code": waybill})
        reply = {"code": 10000, "msg": "success", "data": {"pack_list": answer}}
        self._replies[request_id] = reply
        return JSONResponse(reply)

    # --- Shopify (Admin GraphQL) ------------------------------------------------------

    async def _shopify(self, request: Request) -> Response:
        if (down := self._unavailable()) is not None:
            return down
        token = request.headers.get("x-shopify-access-token", "")
        if token not in self.shops:
            return JSONResponse({"errors": "[API] Invalid API key or access token"}, 401)
        body = json.loads(await request.body())
        query, variables = str(body.get("query", "")), body.get("variables") or {}
        if "fulfillmentCreate" in query:
            return self._shopify_create(token, variables.get("fulfillment") or {})
        order_no = str(variables.get("id", "")).rsplit("/", 1)[-1]
        return JSONResponse({"data": {"order": self._shopify_order(order_no)}})

    def _shopify_order(self, order_no: str) -> dict[str, Any] | None:
        lines = self.shopify_orders.get(order_no)
        if lines is None:
            return None
        numbers = [{"trackingInfo": [{"number": e.waybill}]} for e in self.shipped(order_no)]
        items = [
            {
                "id": f"gid://shopify/FulfillmentOrderLineItem/{line_id}",
                "remainingQuantity": remaining,
                "lineItem": {"id": f"gid://shopify/LineItem/{line_id}"},
            }
            for line_id, remaining in lines.items()
        ]
        node = {"id": f"gid://shopify/FulfillmentOrder/{order_no}", "status": "OPEN"}
        return {
            "fulfillments": numbers,
            "fulfillmentOrders": {"nodes": [node | {"lineItems": {"nodes": items}}]},
        }

    def _shopify_create(self, token: str, fulfillment: Mapping[str, Any]) -> Response:
        groups = fulfillment.get("lineItemsByFulfillmentOrder") or []
        tracking = fulfillment.get("trackingInfo") or {}
        if not groups or not tracking.get("number"):
            return _shopify_user_error("lineItemsByFulfillmentOrder and trackingInfo are required")
        order_no = str(groups[0].get("fulfillmentOrderId", "")).rsplit("/", 1)[-1]
        if order_no in self.refusals:
            return _shopify_user_error(self.refusals[order_no][1])
        remaining = self.shopify_orders.get(order_no, {})
        lines = []
        for group in groups:
            for item in group.get("fulfillmentOrderLineItems") or []:
                line_id, quantity = str(item["id"]).rsplit("/", 1)[-1], int(item["quantity"])
                if remaining.get(line_id, 0) < quantity:
                    return _shopify_user_error(f"line item {line_id} has nothing left")
                remaining[line_id] -= quantity
                lines.append((line_id, quantity))
        carrier, waybill = str(tracking.get("company", "")), str(tracking["number"])
        self._record(Recorded(token, order_no, carrier, waybill, tuple(lines)))
        number = len(self.confirmations)
        fulfillment_out = {"id": f"gid://shopify/Fulfillment/{number}", "status": "SUCCESS"}
        payload = {"fulfillment": fulfillment_out, "userErrors": []}
        return JSONResponse({"data": {"fulfillmentCreate": payload}})


def _top_error(code: str, msg: str, sub_code: str = "", sub_msg: str = "") -> Response:
    error = {"code": int(code), "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}
    return JSONResponse({"error_response": error})


def _pdd_error(code: str, message: str) -> Response:
    error = {"error_code": code, "error_msg": message, "sub_code": code, "sub_msg": message}
    return JSONResponse({"error_response": error})


def _douyin_error(code: int, sub_code: str, sub_msg: str) -> Response:
    body = {"code": code, "msg": "error", "sub_code": sub_code, "sub_msg": sub_msg, "data": {}}
    return JSONResponse(body)


def _shopify_user_error(message: str) -> Response:
    payload = {"fulfillment": None, "userErrors": [{"field": ["fulfillment"], "message": message}]}
    return JSONResponse({"data": {"fulfillmentCreate": payload}})
