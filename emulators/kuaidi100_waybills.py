"""The e-waybill desk of the loopback Kuaidi100: /label/order order, cancel and printOld, the
label links, and /autonumber/auto. Booked numbers become parcels the tracking side knows."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulators.label_pdf import waybill_label

if TYPE_CHECKING:
    from emulators.kuaidi100 import Kuaidi100Emulator

PRINT_TYPES = {"NON", "IMAGE", "HTML", "CLOUD", "ORDERFIRST"}
# Number shapes the carriers use (prefix, digits after it): docs/protocols.md, "Carrier
# number recognition / Local patterns".
NUMBER_SHAPES: dict[str, tuple[str, int]] = {
    "shunfeng": ("SF14", 11),
    "zhongtong": ("78", 12),
    "yuantong": ("YT88", 11),
    "yunda": ("43", 13),
    "shentong": ("77", 13),
    "jtexpress": ("JT50", 11),
    "jd": ("JDVA", 11),
    "ems": ("11", 11),
    "youzhengguonei": ("98", 11),
    "debangkuaidi": ("DPK", 12),
}
NAMES = {
    "shunfeng": "顺丰速运",
    "zhongtong": "中通快递",
    "yuantong": "圆通速递",
    "yunda": "韵达快递",
    "shentong": "申通快递",
    "jtexpress": "极兔速递",
    "jd": "京东物流",
    "ems": "EMS",
    "youzhengguonei": "邮政快递包裹",
    "debangkuaidi": "德邦快递",
}
MAX_REPRINTS = 10


def _answer(code: int, message: str, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": code == 200, "code": code, "message": message, "time": 3}
    if data is not None:
        body["data"] = data
    return body


@dataclass
class DeskWaybill:
    carrier: str
    number: str
    order_id: str
    kd_order: str
    task_id: str
    label_token: str
    param: dict[str, Any]
    data: dict[str, Any]
    cancelled: bool = False
    reprints: int = 0


@dataclass(frozen=True)
class DeskRecord:
    method: str
    param: dict[str, Any]
    accepted: bool
    code: int
    message: str


@dataclass
class WaybillDesk:
    emulator: Kuaidi100Emulator
    balance: int | None = None  # 面单余额; None: unlimited, 0 answers 30004
    bookings: list[DeskRecord] = field(default_factory=list)
    cancels: list[DeskRecord] = field(default_factory=list)
    reprints: list[DeskRecord] = field(default_factory=list)
    by_number: dict[str, DeskWaybill] = field(default_factory=dict)
    by_order: dict[str, DeskWaybill] = field(default_factory=dict)
    labels: dict[str, bytes] = field(default_factory=dict)
    # Numbers run on from the clock (ms), so an emulator restarted next to a database that
    # keeps the last run's parcels never hands out a number already on another order.
    _serial: itertools.count[int] = field(
        default_factory=lambda: itertools.count(time.time_ns() // 1_000_000 % 10**10)
    )
    _lock: threading.RLock = field(default_factory=threading.RLock)

    async def label_order(self, request: Request) -> Response:
        if self.emulator.outage:
            return Response("Service Unavailable", status_code=503)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        method = form.get("method", "")
        if method == "interceptOrder":
            return JSONResponse(self.emulator.answer_intercept(form))
        answers = {"order": self.answer_order, "cancel": self.answer_cancel}
        if method == "printOld":
            return JSONResponse(self.answer_reprint(form))
        if method not in answers:
            return JSONResponse(_answer(30001, "参数错误：不支持的method"))
        base = str(request.base_url).rstrip("/")
        return JSONResponse(answers[method](form, base))

    async def label_file(self, request: Request) -> Response:
        pdf = self.labels.get(request.path_params["token"])
        if pdf is None:
            return Response("Not Found", status_code=404)
        return Response(pdf, media_type="application/pdf")

    def _checked(self, form: dict[str, str]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(param, None) when the key and sign are right, else (None, the refusal)."""
        emulator = self.emulator
        if form.get("key") != emulator.key:
            return None, _answer(30003, "账号信息不正确")
        text = form.get("param", "")
        expected = _md5_upper(text + form.get("t", "") + emulator.key + emulator.secret)
        if form.get("sign") != expected:
            return None, _answer(30002, "验证签名失败")
        try:
            param = json.loads(text)
        except ValueError:
            param = None
        if not isinstance(param, dict):
            return None, _answer(30001, "参数错误：param不是JSON对象")
        return param, None

    def answer_order(self, form: dict[str, str], base: str) -> dict[str, Any]:
        param, refusal = self._checked(form)
        if param is None:
            assert refusal is not None
            self._record(self.bookings, "order", {}, refusal)
            return refusal
        with self._lock:
            answer = self._order(param, base)
            self._record(self.bookings, "order", param, answer)
            return answer

    def _order(self, param: dict[str, Any], base: str) -> dict[str, Any]:
        problem = _order_problem(param)
        if problem:
            return _answer(30001, f"参数错误：{problem}")
        order_id = str(param.get("orderId") or "")
        earlier = self.by_order.get(order_id) if order_id else None
        # reorder=false: the first successful answer again for the same orderId (48 h).
        if earlier is not None and param.get("reorder") is False:
            return _answer(200, "success", earlier.data)
        if self.balance is not None and self.balance <= 0:
            return _answer(30004, "账号单量不足，请充值")
        if self.balance is not None:
            self.balance -= 1
        waybill = self._issue(param, base)
        if order_id:
            self.by_order[order_id] = waybill
        return _answer(200, "success", waybill.data)

    def _issue(self, param: dict[str, Any], base: str) -> DeskWaybill:
        carrier = str(param["kuaidicom"])
        prefix, digits = NUMBER_SHAPES[carrier]
        serial = next(self._serial)
        number = f"{prefix}{serial:0{digits}d}"
        while number in self.emulator.waybills:  # a parcel a test or the demo added by hand
            serial = next(self._serial)
            number = f"{prefix}{serial:0{digits}d}"
        token, task = uuid.uuid4().hex, uuid.uuid4().hex[:16].upper()
        kd_order = f"{carrier[:3].upper()}-ORD-{serial:08d}"
        print_type = str(param.get("printType") or "NON")
        data = {
            "taskId": task,
            "kuaidinum": number,
            "childNum": "",
            "returnNum": "",
            "label": f"{base}/label/{token}" if print_type in ("IMAGE", "HTML") else "",
            "kdComOrderNum": kd_order,
            "bulkpen": "310-W01 00",
        }
        recipient, sender = param["recMan"], param["sendMan"]
        self.labels[token] = waybill_label(
            carrier=NAMES[carrier], number=number, recipient=recipient, sender=sender
        )
        waybill = DeskWaybill(
            carrier, number, str(param.get("orderId") or ""), kd_order, task, token, param, data
        )
        self.by_number[number] = waybill
        self._track(waybill, param)
        return waybill

    def _track(self, waybill: DeskWaybill, param: dict[str, Any]) -> None:
        """The booked number is now a parcel waiting for pickup on the tracking side."""
        from emulators.kuaidi100 import Subscription, _level

        emulator = self.emulator
        tracked = emulator.add_waybill(
            waybill.carrier,
            waybill.number,
            origin_city=str(param["sendMan"].get("city") or "") or emulator.origin_city,
            destination_city=str(param["recMan"].get("city") or "") or None,
        )
        if param.get("needSubscribe") is True:
            salt = param.get("salt")
            tracked.subscription = Subscription(
                str(param["pollCallBackUrl"]),
                None if salt is None else str(salt),
                _level(param.get("resultv2") or "4"),
            )

    def answer_cancel(self, form: dict[str, str], base: str) -> dict[str, Any]:
        param, refusal = self._checked(form)
        if param is None:
            assert refusal is not None
            self._record(self.cancels, "cancel", {}, refusal)
            return refusal
        with self._lock:
            answer = self._cancel(param)
            self._record(self.cancels, "cancel", param, answer)
            return answer

    def _cancel(self, param: dict[str, Any]) -> dict[str, Any]:
        if not param.get("kuaidicom") or not param.get("kuaidinum"):
            return _answer(30001, "参数错误：kuaidicom和kuaidinum必填")
        waybill = self.by_number.get(str(param["kuaidinum"]))
        if waybill is None or waybill.carrier != param["kuaidicom"]:
            return _answer(30009, "查无此单")
        if param.get("orderId") != waybill.kd_order:
            return _answer(30001, "参数错误：orderId与快递公司订单号不符")
        if waybill.cancelled:
            return _answer(201, "取消失败：该面单已取消")
        tracked = self.emulator.waybills.get(waybill.number)
        if tracked is not None and tracked.revealed:
            return _answer(201, "取消失败：快件已揽收")
        waybill.cancelled = True
        self.emulator.waybills.pop(waybill.number, None)
        return _answer(200, "success")

    def answer_reprint(self, form: dict[str, str]) -> dict[str, Any]:
        param, refusal = self._checked(form)
        if param is None:
            assert refusal is not None
            return refusal
        with self._lock:
            task = str(param.get("taskId") or "")
            waybill = next((w for w in self.by_number.values() if w.task_id == task), None)
            if waybill is None or waybill.cancelled or waybill.reprints >= MAX_REPRINTS:
                answer = _answer(30009, "查无此单")
            else:
                waybill.reprints += 1
                answer = _answer(200, "success")
            self._record(self.reprints, "printOld", param, answer)
            return answer

    async def autonumber(self, request: Request) -> Response:
        if self.emulator.outage:
            return Response("Service Unavailable", status_code=503)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        values = {**dict(request.query_params), **form}
        return JSONResponse(self.answer_autonumber(values.get("key", ""), values.get("num", "")))

    def answer_autonumber(self, key: str, number: str) -> Any:
        if not key:
            return {"returnCode": "701", "message": "key缺失", "result": False}
        if key != self.emulator.key:
            return {"returnCode": "601", "message": "KEY已过期或未开通", "result": False}
        number = number.strip().upper()
        with self._lock:
            known = self.by_number.get(number)
        codes = [known.carrier] if known else []
        codes += [code for code in _shape_guesses(number) if code not in codes]
        if not codes:
            return {"returnCode": "201", "message": "不是有效的快递单号", "result": False}
        return [{"lengthPre": len(number), "comCode": c, "name": NAMES[c]} for c in codes]

    def _record(
        self, into: list[DeskRecord], method: str, param: dict[str, Any], answer: dict[str, Any]
    ) -> None:
        into.append(
            DeskRecord(method, param, answer["code"] == 200, answer["code"], answer["message"])
        )


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def _order_problem(param: dict[str, Any]) -> str | None:
    print_type = param.get("printType")
    if print_type not in PRINT_TYPES:
        return "printType"
    if param.get("kuaidicom") not in NUMBER_SHAPES:
        return "不支持的快递公司编码"
    for role in ("recMan", "sendMan"):
        person = param.get(role)
        if not isinstance(person, dict) or not person.get("name") or not person.get("printAddr"):
            return f"{role}的name和printAddr必填"
        if not (person.get("mobile") or person.get("tel")):
            return f"{role}的mobile或tel必填其一"
    if print_type != "NON" and not param.get("tempId"):
        return "tempId必填"
    if print_type in ("CLOUD", "ORDERFIRST") and not param.get("siid"):
        return "siid必填"
    if param.get("needSubscribe") is True and not param.get("pollCallBackUrl"):
        return "needSubscribe时pollCallBackUrl必填"
    return None


def _shape_guesses(number: str) -> list[str]:
    """A rough guess from the shapes, all-digit numbers matching more than one carrier."""
    found = []
    for code, (prefix, digits) in NUMBER_SHAPES.items():
        head = prefix.rstrip("0123456789") or prefix[:1]
        if number.startswith(head) and len(number) == len(prefix) + digits:
            found.append(code)
    return found
