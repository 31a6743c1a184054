"""A loopback SF Express: incremental route pushes (duplicates, out of order) and route query."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CHINA_TIME = timezone(timedelta(hours=8))
ROUTE_QUERY_SERVICE = "EXP_RECE_SEARCH_ROUTES"
ORDER_SERVICES = (
    "EXP_RECE_CREATE_ORDER",
    "EXP_RECE_SEARCH_ORDER_RESP",
    "EXP_RECE_UPDATE_ORDER",
    "COM_RECE_CLOUD_PRINT_WAYBILLS",
)
COURIERS = ("王师傅", "李师傅", "张师傅", "陈师傅")


def sign(msg_data: str, timestamp: str, check_word: str) -> str:
    """SF's msgDigest, with Java URLEncoder semantics (`*` kept, `~` escaped)."""
    encoded = quote_plus(msg_data + timestamp + check_word, safe="*").replace("~", "%7E")
    return base64.b64encode(hashlib.md5(encoded.encode(), usedforsecurity=False).digest()).decode()


def _local(moment: datetime) -> str:
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S")


def _route_item(
    mailno: str, order_id: str, index: int, at: datetime, op_code: str, place: str, remark: str
) -> dict[str, str]:
    return {
        "id": uuid.uuid5(uuid.NAMESPACE_OID, f"{mailno}/{index}").hex,
        "mailno": mailno,
        "orderid": order_id,
        "acceptTime": _local(at),
        "acceptAddress": place,
        "remark": remark,
        "opCode": op_code,
        "reasonName": "",
        "reasonCode": "",
    }


def build_route(
    mailno: str,
    *,
    order_id: str,
    start: datetime,
    origin: str = "深圳市",
    destination: str = "杭州市",
    pickup_point: bool = False,
) -> list[dict[str, str]]:
    """A realistic SF route as WaybillRoute items, oldest first.

    opCodes as in docs/protocols.md, "SF Express / Route opCodes".
    """
    rng = random.Random(mailno)
    courier = rng.choice(COURIERS)
    o, d = origin.removesuffix("市"), destination.removesuffix("市")
    steps = [
        (0.0, "50", origin, "顺丰速运 已收取快件"),
        (2.0, "30", origin, f"快件在【{o}宝安集散中心】完成分拣，准备发往【{d}转运中心】"),
        (1.0, "36", origin, f"快件已从【{o}宝安集散中心】发出，发往【{d}转运中心】"),
        (14.0, "31", destination, f"快件到达【{d}转运中心】"),
        (2.0, "30", destination, f"快件在【{d}转运中心】完成分拣，准备发往【{d}西湖营业点】"),
        (3.0, "44", destination, f"快件交给{courier}，正在派送途中（联系电话：95338）"),
    ]
    if pickup_point:
        # 130 as "arrived at a pickup point" comes from one constants file (unconfirmed).
        steps.append((2.0, "130", destination, "快件已放入【丰巢智能柜】，请凭取件码取件"))
    steps.append((3.0, "80", destination, "已签收，感谢使用顺丰，期待再次为您服务"))
    items, at = [], start
    for index, (gap, op_code, place, remark) in enumerate(steps):
        at = at + timedelta(hours=gap)
        items.append(_route_item(mailno, order_id, index, at, op_code, place, remark))
    return items


def with_duplicates(count: int) -> list[int]:
    """Every item pushed twice, as SF does when our first reply got lost."""
    return [index for index in range(count) for _ in range(2)]


def out_of_order(count: int) -> list[int]:
    """Adjacent items swapped, as happens when a retry overtakes a later push."""
    order = list(range(count))
    for index in range(0, count - 1, 2):
        order[index], order[index + 1] = order[index + 1], order[index]
    return order


class SfPushSender:
    """POSTs route pushes to a webhook, one push per call, the way SF's push service does.

    `form=False` (default) sends the JSON body SF is known to send; the endpoint is then
    protected by a secret in its URL. `form=True` sends the unconfirmed signed variant: form
    fields msgData, timestamp and msgDigest computed with `check_word`. Both:
    docs/protocols.md, "SF Express / Route push".
    """

    def __init__(
        self, url: str, http: httpx.Client, *, check_word: str = "", form: bool = False
    ) -> None:
        self.url = url
        self.check_word = check_word
        self.form = form
        self._http = http
        self.responses: list[httpx.Response] = []

    def push(self, items: Sequence[dict[str, str]], *, tamper: bool = False) -> httpx.Response:
        """One push carrying `items`; `tamper` alters the body after signing."""
        body = json.dumps({"Body": {"WaybillRoute": list(items)}}, ensure_ascii=False)
        if self.form:
            timestamp = str(int(time.time() * 1000))
            digest = sign(body, timestamp, self.check_word)
            body = body + " " if tamper else body  # still valid JSON, no longer signed
            response = self._http.post(
                self.url, data={"msgData": body, "timestamp": timestamp, "msgDigest": digest}
            )
        else:
            response = self._http.post(
                self.url,
                content=body.encode(),
                headers={"Content-Type": "application/json;charset=UTF-8"},
            )
        self.responses.append(response)
        return response

    def replay(self, items: Sequence[dict[str, str]], order: Sequence[int]) -> list[httpx.Response]:
        """Push items[i] one at a time for each i in `order` (repeats and reorders welcome)."""
        return [self.push([items[index]]) for index in order]

    @staticmethod
    def accepted(response: httpx.Response) -> bool:
        try:
            return bool(response.status_code == 200 and response.json()["return_code"] == "0000")
        except (ValueError, KeyError, TypeError):
            return False


@dataclass
class GatewayWaybill:
    mailno: str
    routes: list[dict[str, str]]
    revealed: int


def _envelope(code: str, message: str = "", data: Any = None) -> dict[str, Any]:
    return {
        "apiResultCode": code,
        "apiErrorMsg": message,
        "apiResponseID": uuid.uuid4().hex.upper(),
        "apiResultData": None if data is None else json.dumps(data, ensure_ascii=False),
    }


class SfGatewayEmulator:
    """The /std/service gateway, checking msgDigest and requestID: route queries here, orders,
    cancels and cloud print in emulators/sf_orders.py."""

    def __init__(self, *, partner_id: str = "TESTPARTNER", check_word: str = "TESTCHECKWORD"):
        self.partner_id, self.check_word = partner_id, check_word
        self.outage = False  # while set, every call answers HTTP 503
        self.waybills: dict[str, GatewayWaybill] = {}
        self._request_ids: set[str] = set()
        self._lock = threading.RLock()
        # Imported here: the order desk refers back to this module for routes and envelopes.
        from emulators.sf_orders import OrderDesk

        self.desk = OrderDesk(self)
        self.app = Starlette(
            routes=[
                Route("/std/service", self._service, methods=["POST"]),
                Route("/print-file/{name}", self.desk.print_file, methods=["GET"]),
            ]
        )

    @property
    def bookings(self) -> list[Any]:
        """Every EXP_RECE_CREATE_ORDER call that passed the gateway, refused ones included."""
        return self.desk.bookings

    @property
    def cancels(self) -> list[Any]:
        return self.desk.cancels

    def advance(self, mailno: str, steps: int = 1) -> None:
        """Reveal the next route steps of a waybill (a booked one starts with none)."""
        with self._lock:
            waybill = self.waybills[mailno]
            waybill.revealed = min(waybill.revealed + steps, len(waybill.routes))

    def add_waybill(self, items: list[dict[str, str]], *, revealed: int | None = None) -> None:
        mailno = items[0]["mailno"]
        shown = len(items) if revealed is None else revealed
        with self._lock:
            self.waybills[mailno] = GatewayWaybill(mailno, items, shown)

    async def _service(self, request: Request) -> Response:
        if self.outage:
            return Response("Service Unavailable", status_code=503)
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return JSONResponse(self.answer(fields, str(request.base_url).rstrip("/")))

    def answer(self, form: dict[str, str], base_url: str = "") -> dict[str, Any]:
        required = ("partnerID", "requestID", "serviceCode", "timestamp", "msgDigest", "msgData")
        if any(not form.get(name) for name in required):
            return _envelope("A1001", "必传参数不可为空")
        services = (ROUTE_QUERY_SERVICE, *ORDER_SERVICES)
        if form["partnerID"] != self.partner_id or form["serviceCode"] not in services:
            return _envelope("A1004", "无对应服务权限")
        if form["msgDigest"] != sign(form["msgData"], form["timestamp"], self.check_word):
            return _envelope("A1006", "数字签名无效")
        with self._lock:
            if form["requestID"] in self._request_ids:
                return _envelope("A1007", "重复请求")
            self._request_ids.add(form["requestID"])
        if form["serviceCode"] in ORDER_SERVICES:
            return self.desk.answer(form["serviceCode"], form["msgData"], base_url)
        try:
            numbers = json.loads(form["msgData"])["trackingNumber"]
        except (ValueError, KeyError, TypeError):
            return _envelope("A1000", data={"success": False, "errorCode": "S0001"})
        return _envelope("A1000", data=self._routes(numbers))

    def _routes(self, numbers: list[str]) -> dict[str, Any]:
        responses = []
        with self._lock:
            for number in numbers:
                waybill = self.waybills.get(str(number))
                shown = waybill.routes[: waybill.revealed] if waybill else []
                routes = [
                    {k: r[k] for k in ("acceptTime", "acceptAddress", "remark", "opCode")}
                    for r in shown
                ]
                responses.append({"mailNo": number, "routes": routes})
        message = {"routeResps": responses}
        return {"success": True, "errorCode": "S0000", "errorMsg": None, "msgData": message}


def main() -> None:
    """`python -m emulators.sf URL [MAILNO]`: push a whole demo route to a webhook, step by step."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("mailno", nargs="?", default="SF1000000000001")
    parser.add_argument("--check-word", default="")
    parser.add_argument("--form", action="store_true", help="send the signed form variant")
    args = parser.parse_args()
    start = datetime.now(UTC) - timedelta(days=1)
    items = build_route(args.mailno, order_id="DEMO-1", start=start)
    with httpx.Client(timeout=httpx.Timeout(5.0)) as http:
        sender = SfPushSender(args.url, http, check_word=args.check_word, form=args.form)
        for response in sender.replay(items, range(len(items))):
            print(response.status_code, response.text)


if __name__ == "__main__":
    main()
