"""The order desk of the loopback SF gateway: EXP_RECE_CREATE_ORDER, EXP_RECE_SEARCH_ORDER_RESP,
EXP_RECE_UPDATE_ORDER (cancel) and COM_RECE_CLOUD_PRINT_WAYBILLS with PDF downloads.

SF's business error codes for these refusals were not found, so the codes here are the
emulator's own (docs/protocols.md, "SF Express / Create order"); the adapter only relies on
the duplicate-order code, which is a setting.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from emulators.label_pdf import waybill_label

if TYPE_CHECKING:
    from emulators.sf import SfGatewayEmulator

TEST_MONTHLY_CARD = "7551234567"  # SF's published sandbox 月结卡号
DUPLICATE_ORDER = "8016"
MISSING_FIELD = "1010"
BAD_MONTHLY_CARD = "8024"
ORDER_NOT_FOUND = "8018"
ALREADY_COLLECTED = "8252"
BAD_TEMPLATE = "8105"


@dataclass
class SfOrder:
    order_id: str
    mailno: str
    message: dict[str, Any]
    sender: dict[str, str]
    recipient: dict[str, str]
    cancelled: bool = False


@dataclass(frozen=True)
class OrderRecord:
    service: str
    msg: dict[str, Any]
    accepted: bool
    error_code: str


@dataclass
class OrderDesk:
    gateway: SfGatewayEmulator
    monthly_card: str = TEST_MONTHLY_CARD
    bookings: list[OrderRecord] = field(default_factory=list)
    cancels: list[OrderRecord] = field(default_factory=list)
    prints: list[OrderRecord] = field(default_factory=list)
    orders: dict[str, SfOrder] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (token, pdf)
    # From the clock (ms), as at the Kuaidi100 desk: a restart never repeats a number.
    _serial: int = field(default_factory=lambda: time.time_ns() // 1_000_000 % 10**11)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def answer(self, service: str, msg_data: str, base_url: str) -> dict[str, Any]:
        from emulators.sf import _envelope

        try:
            msg = json.loads(msg_data)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            return _envelope("A1000", data=_refusal(MISSING_FIELD, "msgData不是JSON对象"))
        handlers = {
            "EXP_RECE_CREATE_ORDER": (self._create, self.bookings),
            "EXP_RECE_SEARCH_ORDER_RESP": (self._search, None),
            "EXP_RECE_UPDATE_ORDER": (self._update, self.cancels),
            "COM_RECE_CLOUD_PRINT_WAYBILLS": (self._print, self.prints),
        }
        handle, records = handlers[service]
        with self._lock:
            result = handle(msg, base_url)
            if records is not None:
                records.append(
                    OrderRecord(service, msg, result["success"], result.get("errorCode") or "")
                )
        return _envelope("A1000", data=result)

    def _create(self, msg: dict[str, Any], base_url: str) -> dict[str, Any]:
        problem = _create_problem(msg)
        if problem:
            return _refusal(MISSING_FIELD, problem)
        if msg.get("monthlyCard") and msg["monthlyCard"] != self.monthly_card:
            return _refusal(BAD_MONTHLY_CARD, "月结卡号不匹配")
        order_id = str(msg["orderId"])
        if order_id in self.orders:
            return _refusal(DUPLICATE_ORDER, "重复下单")
        self._serial += 1
        mailno = f"SF1{self._serial:012d}"
        contacts = {int(c["contactType"]): c for c in msg["contactInfoList"]}
        sender, recipient = contacts[1], contacts[2]
        message = {
            "orderId": order_id,
            "originCode": "755",
            "destCode": "571",
            "filterResult": 2,
            "remark": "",
            "waybillNoInfoList": [{"waybillType": 1, "waybillNo": mailno}],
            "routeLabelInfo": [
                {
                    "code": "1000",
                    "message": "SUCCESS",
                    "routeLabelData": {"waybillNo": mailno, "destRouteLabel": "571WA-001"},
                }
            ],
        }
        self.orders[order_id] = SfOrder(order_id, mailno, message, sender, recipient)
        self._track(order_id, mailno, sender, recipient)
        return _success(message)

    def _track(
        self, order_id: str, mailno: str, sender: dict[str, Any], recipient: dict[str, Any]
    ) -> None:
        """A booked waybill answers route queries at once, with no routes until collected."""
        from emulators.sf import build_route

        routes = build_route(
            mailno,
            order_id=order_id,
            start=datetime.now(UTC),
            origin=str(sender.get("city") or "深圳市"),
            destination=str(recipient.get("city") or "杭州市"),
        )
        self.gateway.add_waybill(routes, revealed=0)

    def _search(self, msg: dict[str, Any], base_url: str) -> dict[str, Any]:
        order = self.orders.get(str(msg.get("orderId") or ""))
        if order is None:
            return _refusal(ORDER_NOT_FOUND, "订单不存在")
        return _success(order.message)

    def _update(self, msg: dict[str, Any], base_url: str) -> dict[str, Any]:
        order = self.orders.get(str(msg.get("orderId") or ""))
        if order is None:
            return _refusal(ORDER_NOT_FOUND, "订单不存在")
        if str(msg.get("dealType")) != "2":
            return _refusal(MISSING_FIELD, "仅支持dealType=2取消")
        numbers = [str(n.get("waybillNo")) for n in msg.get("waybillNoInfoList") or []]
        answer = {
            "orderId": order.order_id,
            "waybillNoInfoList": order.message["waybillNoInfoList"],
        }
        if numbers and order.mailno not in numbers:
            return _success({**answer, "resStatus": 1})
        tracked = self.gateway.waybills.get(order.mailno)
        if not order.cancelled and tracked is not None and tracked.revealed:
            return _refusal(ALREADY_COLLECTED, "快件已揽收，不能取消")
        order.cancelled = True
        self.gateway.waybills.pop(order.mailno, None)
        return _success({**answer, "resStatus": 2})

    def _print(self, msg: dict[str, Any], base_url: str) -> dict[str, Any]:
        template = str(msg.get("templateCode") or "")
        partner = self.gateway.partner_id
        if not (template.startswith("fm_") and template.endswith(f"_{partner}")):
            return _refusal(BAD_TEMPLATE, "模板编码不存在")
        documents = msg.get("documents")
        if msg.get("version") != "2.0" or not isinstance(documents, list):
            return _refusal(MISSING_FIELD, "version和documents必填")
        if not 1 <= len(documents) <= 20:
            return _refusal(MISSING_FIELD, "documents一次最多20个")
        by_mailno = {o.mailno: o for o in self.orders.values() if not o.cancelled}
        files = []
        for index, document in enumerate(documents, start=1):
            order = by_mailno.get(str(document.get("masterWaybillNo") or ""))
            if order is None:
                return _refusal(ORDER_NOT_FOUND, "运单号不属于该顾客编码")
            files.append(self._file(order, template, base_url, index))
        obj = {"clientCode": partner, "templateCode": template, "fileType": "pdf", "files": files}
        return {"success": True, "requestId": uuid.uuid4().hex, "errorCode": None, "obj": obj}

    def _file(self, order: SfOrder, template: str, base_url: str, index: int) -> dict[str, Any]:
        token = f"AUTH_tkv12_{secrets.token_hex(16)}"
        name = f"{order.mailno}_{template}_{index}_1.pdf"
        recipient = {
            "name": order.recipient.get("contact", ""),
            "mobile": order.recipient.get("mobile") or order.recipient.get("tel") or "",
            "printAddr": _address(order.recipient),
        }
        sender = {
            "name": order.sender.get("contact", ""),
            "mobile": order.sender.get("mobile") or order.sender.get("tel") or "",
            "printAddr": _address(order.sender),
        }
        pdf = waybill_label(
            carrier="顺丰速运", number=order.mailno, recipient=recipient, sender=sender
        )
        self.files[name] = (token, pdf)
        return {
            "waybillNo": order.mailno,
            "url": f"{base_url}/print-file/{name}",
            "token": token,
            "areaNo": 1,
            "pageNo": 1,
            "seqNo": index,
            "pageCount": 1,
            "documentSize": len(pdf),
        }

    async def print_file(self, request: Request) -> Response:
        if self.gateway.outage:
            return Response("Service Unavailable", status_code=503)
        stored = self.files.get(request.path_params["name"])
        if stored is None:
            return Response("Not Found", status_code=404)
        token, pdf = stored
        if not secrets.compare_digest(request.headers.get("x-auth-token", ""), token):
            return Response("Unauthorized", status_code=401)
        return Response(pdf, media_type="application/pdf")


def _success(message: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "errorCode": "S0000", "errorMsg": None, "msgData": message}


def _refusal(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "errorCode": code, "errorMsg": message, "msgData": None}


def _address(contact: dict[str, Any]) -> str:
    parts = ("province", "city", "county", "address")
    return "".join(str(contact.get(part) or "") for part in parts)


def _create_problem(msg: dict[str, Any]) -> str | None:
    if not msg.get("orderId"):
        return "orderId必填"
    cargo = msg.get("cargoDetails")
    if not isinstance(cargo, list) or not cargo or not all(c.get("name") for c in cargo):
        return "cargoDetails的name必填"
    contacts = msg.get("contactInfoList")
    if not isinstance(contacts, list):
        return "contactInfoList必填"
    kinds = {str(c.get("contactType")) for c in contacts if isinstance(c, dict)}
    if kinds != {"1", "2"}:
        return "contactInfoList需要寄件人和收件人"
    for contact in contacts:
        if not contact.get("contact") or not (contact.get("mobile") or contact.get("tel")):
            return "联系人和电话必填"
        if not contact.get("address") or not contact.get("country"):
            return "address和country必填"
    return None
