"""A loopback Kuaidi100: signed query and subscribe, full-history pushes, intercepts, outages."""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CHINA_TIME = timezone(timedelta(hours=8))
COURIERS = ("王师傅", "李师傅", "张师傅", "陈师傅", "刘师傅")
STATIONS = ("菜鸟驿站", "妈妈驿站", "兔喜生活", "丰巢智能柜")
Endpoint = Callable[[Request], Awaitable[Response]]
TEST_SECRET = "TESTSECRET"  # noqa: S105 - the emulator's well-known test credential
NO_RESULT = {"result": False, "returnCode": "500", "message": "查询无结果，请隔段时间再查"}


@dataclass(frozen=True)
class Place:
    province: str
    city: str
    district: str
    area_code: str

    @property
    def hub(self) -> str:
        return f"{self.city.removesuffix('市')}转运中心"

    @property
    def area_name(self) -> str:
        return f"{self.province},{self.city},{self.district}"


CITIES = (
    Place("广东", "深圳市", "南山区", "CN440305000000"),
    Place("浙江", "杭州市", "西湖区", "CN330106000000"),
    Place("上海", "上海市", "浦东新区", "CN310115000000"),
    Place("北京", "北京市", "朝阳区", "CN110105000000"),
    Place("四川", "成都市", "武侯区", "CN510107000000"),
    Place("湖北", "武汉市", "洪山区", "CN420111000000"),
    Place("江苏", "南京市", "鼓楼区", "CN320106000000"),
    Place("广东", "广州市", "天河区", "CN440106000000"),
    Place("陕西", "西安市", "雁塔区", "CN610113000000"),
    Place("福建", "厦门市", "思明区", "CN350203000000"),
    Place("山东", "青岛市", "市南区", "CN370202000000"),
    Place("湖南", "长沙市", "岳麓区", "CN430104000000"),
)


@dataclass(frozen=True)
class Trace:
    """One trajectory item: its statusCode (advanced where one exists) and basic state."""

    at: datetime
    code: str
    basic: str
    name: str
    context: str
    place: Place


def _last_mile(rng: random.Random, d: Place, station: bool, problem: str | None) -> list[Any]:
    courier = rng.choice(COURIERS)
    phone = f"1{rng.randint(30, 89)}****{rng.randint(1000, 9999)}"
    here = f"【{d.city}{d.district}】"
    deliver = (3.0, "5", "5", "派件", f"{here}快递员{courier}（电话 {phone}）正在为您派件", d)
    steps: list[Any] = []
    if problem == "208":
        steps.append((3.0, "208", "2", "滞留", f"{here}快件因天气原因滞留，将尽快为您派送", d))
    steps.append(deliver)
    if problem == "206":
        steps.append((4.0, "206", "2", "无法联系", f"{here}{courier}联系收件人未果，明日再派", d))
        steps.append((16.0, *deliver[1:]))
    if station:
        name = f"{d.district}{rng.choice(STATIONS)}"
        code = f"{rng.randint(1, 9)}-{rng.randint(1, 6)}-{rng.randint(1000, 9999)}"
        steps.append((2.0, "501", "5", "投柜或驿站", f"{here}已被【{name}】代收，取件码{code}", d))
        steps.append((7.0, "304", "3", "投柜或站签收", f"{here}已从【{name}】取件，感谢使用", d))
    else:
        steps.append((2.0, "301", "3", "本人签收", f"{here}已签收，签收人：本人，感谢使用", d))
    return steps


def plan_route(
    number: str,
    start: datetime,
    *,
    station: bool | None = None,
    problem: str | None = None,
    origin_city: str | None = None,
    destination_city: str | None = None,
) -> list[Trace]:
    """A deterministic, realistic route for `number`: 揽收, hubs, 派件, 驿站 or 本人签收.

    Unless told, about 40% go through a 驿站/快递柜 and 20% hit a 疑难 (208 滞留 or
    206 无法联系) before delivery; `problem` is "208", "206" or "none". Known origin and
    destination cities are used when given (the subscription's `to`, the merchant's depot).
    """
    rng = random.Random(number)
    origin, via, d = rng.sample(CITIES, 3)
    by_name = {place.city: place for place in CITIES}
    origin = by_name.get(origin_city or "", origin)
    d = by_name.get(destination_city or "", d)
    if origin.city == d.city or via.city in (origin.city, d.city):
        via = next(p for p in CITIES if p.city not in (origin.city, d.city))
    station = rng.random() < 0.4 if station is None else station
    if problem is None:
        problem = rng.choice(("208", "206")) if rng.random() < 0.2 else "none"
    o = origin
    steps: list[Any] = [
        (0.0, "103", "1", "已揽收", f"【{o.city}{o.district}营业部】快递员已揽收", o),
        (2.0, "0", "0", "在途", f"【{o.city}】快件已到达【{o.hub}】", o),
        (1.5, "1002", "0", "干线", f"【{o.city}】快件离开【{o.hub}】，下一站【{via.hub}】", o),
        (9.0, "0", "0", "在途", f"【{via.city}】快件已到达【{via.hub}】", via),
        (2.0, "1002", "0", "干线", f"【{via.city}】离开【{via.hub}】，下一站【{d.hub}】", via),
        (8.0, "1001", "0", "到达派件城市", f"【{d.city}】快件已到达【{d.hub}】", d),
        (2.0, "0", "0", "在途", f"【{d.city}】快件已发往【{d.district}营业部】", d),
        *_last_mile(rng, d, station, problem if problem != "none" else None),
    ]
    traces, at = [], start
    for gap, code, basic, name, context, place in steps:
        at = at + timedelta(hours=gap)
        traces.append(Trace(at, code, basic, name, context, place))
    return traces


@dataclass
class Subscription:
    callback_url: str
    salt: str | None
    resultv2: int


@dataclass
class Waybill:
    company: str
    number: str
    plan: list[Trace]
    revealed: int = 0
    subscription: Subscription | None = None
    monitor: str = "polling"
    monitor_message: str = ""
    repush: bool = False  # the last push was not acknowledged; send it again next time
    held: bool = False  # a parcel stuck at the depot: it never moves (for stalled-parcel demos)

    @property
    def history(self) -> list[Trace]:
        return self.plan[: self.revealed]

    @property
    def is_signed(self) -> bool:
        return bool(self.revealed) and self.plan[self.revealed - 1].basic == "3"


@dataclass(frozen=True)
class PushRecord:
    number: str
    url: str
    param: str
    sign: str
    status_code: int | None
    reply: str
    accepted: bool


# docs/protocols.md, "Kuaidi100 / Intercept and address change".
INTERCEPT_TYPES = frozenset({"RETURN_SEND_STATION", "RETURN_SEND_ADDR", "MODIFY_ADDR"})


@dataclass
class InterceptRecord:
    form: dict[str, str]
    param: dict[str, Any]
    accepted: bool
    message: str


def _level(value: Any) -> int:
    try:
        return int(str(value or "0"))
    except ValueError:
        return 0


def _render_item(trace: Trace, level: int) -> dict[str, str]:
    local = trace.at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S")
    item = {"time": local, "ftime": local, "context": trace.context, "location": ""}
    if level >= 1:  # 行政区解析 + 状态名称
        item.update(areaCode=trace.place.area_code, areaName=trace.place.area_name)
        item["status"] = trace.name
    if level >= 4:  # 高级状态值
        item["statusCode"] = trace.code
    return item


def render_result(waybill: Waybill, level: int, *, ascending: bool = False) -> dict[str, Any]:
    """The documented query body, which is also a push's lastResult."""
    history = waybill.history
    items = [_render_item(trace, level) for trace in reversed(history)]
    latest = history[-1]
    return {
        "message": "ok",
        "nu": waybill.number,
        "ischeck": "1" if waybill.is_signed else "0",
        "com": waybill.company,
        "status": "200",
        # Unconfirmed: with 高级状态 asked for, `state` carries the advanced code (as in the
        # push example); docs/protocols.md, "Kuaidi100 / Query".
        "state": latest.code if level >= 4 else latest.basic,
        "condition": "F00",
        "data": list(reversed(items)) if ascending else items,
    }


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _parse_json(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class Kuaidi100Emulator:
    """Speaks /poll/query.do, /poll, /label/order and /autonumber/auto like Kuaidi100, plus
    /_emulator controls; the e-waybill methods live in emulators/kuaidi100_waybills.py."""

    def __init__(
        self,
        *,
        customer: str = "TESTCUSTOMER",
        key: str = "TESTKEY",
        secret: str = TEST_SECRET,
        start: datetime | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.customer, self.key, self.secret = customer, key, secret
        self.start = start or datetime.now(UTC) - timedelta(days=2)
        self.outage = False  # while set, every protocol endpoint answers HTTP 503
        # For the demo: each step happens when it is revealed, from the merchant's depot.
        self.live_times = False
        self.origin_city: str | None = None
        self.waybills: dict[str, Waybill] = {}
        self.pushes: list[PushRecord] = []
        self.intercepts: list[InterceptRecord] = []
        self._http = http or httpx.Client(timeout=httpx.Timeout(5.0))
        self._lock = threading.RLock()
        # Imported here: the desk module refers back to this one for the parcel types.
        from emulators.kuaidi100_waybills import WaybillDesk

        self.desk = WaybillDesk(self)
        self.app = Starlette(
            routes=[
                Route("/poll/query.do", self._protocol(self.answer_query), methods=["POST"]),
                Route("/poll", self._protocol(self.answer_subscribe), methods=["POST"]),
                Route("/label/order", self.desk.label_order, methods=["POST"]),
                Route("/label/{token}", self.desk.label_file, methods=["GET"]),
                Route("/autonumber/auto", self.desk.autonumber, methods=["GET", "POST"]),
                Route("/_emulator/advance", self._control_advance, methods=["POST"]),
                Route("/_emulator/outage", self._control_outage, methods=["POST"]),
            ]
        )

    @property
    def bookings(self) -> list[Any]:
        """Every method=order call the e-waybill desk answered, refused ones included."""
        return self.desk.bookings

    @property
    def cancels(self) -> list[Any]:
        return self.desk.cancels

    def add_waybill(
        self, company: str, number: str, *, steps_done: int = 0, **route: Any
    ) -> Waybill:
        """A parcel the emulator knows; `route` goes to plan_route (station=, problem=)."""
        with self._lock:
            waybill = Waybill(company, number, plan_route(number, self.start, **route))
            waybill.revealed = min(steps_done, len(waybill.plan))
            self.waybills[number] = waybill
            return waybill

    def _protocol(self, answer: Callable[[dict[str, str]], Any]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            if self.outage:
                return Response("Service Unavailable", status_code=503)
            return JSONResponse(answer(await _form(request)))

        return endpoint

    def answer_query(self, form: dict[str, str]) -> dict[str, Any]:
        param_text, sign = form.get("param", ""), form.get("sign", "")
        if not param_text or not sign or form.get("customer") != self.customer:
            return {"result": False, "returnCode": "400", "message": "提交的数据不完整或没授权"}
        if sign != _md5_upper(param_text + self.key + self.customer):
            return {"result": False, "returnCode": "503", "message": "验证签名失败"}
        param = _parse_json(param_text)
        if param is None or not param.get("com") or not param.get("num"):
            return {"result": False, "returnCode": "400", "message": "提交的数据不完整或没授权"}
        with self._lock:
            waybill = self.waybills.get(str(param["num"]))
            if waybill is None or waybill.company != param["com"] or not waybill.revealed:
                return NO_RESULT
            ascending = param.get("order") == "asc"
            return render_result(waybill, _level(param.get("resultv2")), ascending=ascending)

    def answer_subscribe(self, form: dict[str, str]) -> dict[str, Any]:
        param = _parse_json(form.get("param", ""))
        if form.get("schema") != "json" or param is None:
            return {"result": False, "returnCode": "700", "message": "订阅数据错误"}
        if param.get("key") != self.key:
            return {"result": False, "returnCode": "600", "message": "不是合法的订阅者"}
        options = _object(param.get("parameters"))
        company, number = str(param.get("company") or ""), str(param.get("number") or "")
        callback = str(options.get("callbackurl") or "")
        if not company or not 6 <= len(number) <= 32 or not callback.startswith("http"):
            return {"result": False, "returnCode": "700", "message": "订阅数据错误"}
        with self._lock:
            waybill = self.waybills.get(number) or self.add_waybill(
                company,
                number,
                origin_city=self.origin_city,
                destination_city=str(param.get("to") or "") or None,
            )
            if waybill.subscription is not None and waybill.monitor == "polling":
                return {"result": False, "returnCode": "501", "message": "重复订阅"}
            salt = options.get("salt")
            waybill.subscription = Subscription(
                callback, None if salt is None else str(salt), _level(options.get("resultv2"))
            )
            waybill.monitor, waybill.monitor_message = "polling", ""
        return {"result": True, "returnCode": "200", "message": "提交成功"}

    def build_push(self, waybill: Waybill) -> tuple[str, str, str]:
        """(callback URL, param, sign) of the push Kuaidi100 would send for this waybill now."""
        subscription = waybill.subscription
        assert subscription is not None
        body = {
            "status": waybill.monitor,
            "billstatus": "",
            "message": waybill.monitor_message,
            "autoCheck": "0",
            "comOld": "",
            "comNew": "",
            "lastResult": render_result(waybill, subscription.resultv2)
            if waybill.revealed
            else {"message": "ok", "nu": waybill.number, "com": waybill.company, "data": []},
        }
        param = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        # Upper-case like every digest in Kuaidi100's SDKs (the doc itself writes md5(...)).
        sign = _md5_upper(param + subscription.salt) if subscription.salt is not None else ""
        return subscription.callback_url, param, sign

    def advance(self, number: str | None = None) -> list[PushRecord]:
        """Move every parcel (or one) a step and push the full history to each subscriber."""
        due: list[tuple[Waybill, str, str, str]] = []
        with self._lock:
            for waybill in self.waybills.values():
                if number is not None and waybill.number != number:
                    continue
                moved = (
                    waybill.monitor == "polling"
                    and not waybill.held
                    and waybill.revealed < len(waybill.plan)
                )
                if moved:
                    waybill.revealed += 1
                    if self.live_times:
                        step = waybill.plan[waybill.revealed - 1]
                        waybill.plan[waybill.revealed - 1] = replace(step, at=datetime.now(UTC))
                if waybill.subscription is None or not (moved or waybill.repush):
                    continue
                if waybill.is_signed and waybill.monitor == "polling":
                    waybill.monitor = "shutdown"  # signed: Kuaidi100 stops watching
                due.append((waybill, *self.build_push(waybill)))
        return [self._deliver(waybill, *push) for waybill, *push in due]

    def abort(self, number: str, message: str = "60天无变化") -> PushRecord:
        """Kuaidi100 giving up on a waybill: an "abort" push; it may be subscribed again."""
        with self._lock:
            waybill = self.waybills[number]
            waybill.monitor, waybill.monitor_message = "abort", message
            push = self.build_push(waybill)
        return self._deliver(waybill, *push)

    def _deliver(self, waybill: Waybill, url: str, param: str, sign: str) -> PushRecord:
        status: int | None = None
        reply = ""
        try:
            response = self._http.post(url, data={"param": param, "sign": sign})
            status, reply = response.status_code, response.text
        except httpx.TransportError as error:
            reply = repr(error)
        answer = _parse_json(reply) or {}
        accepted = status == 200 and answer.get("result") is True
        record = PushRecord(waybill.number, url, param, sign, status, reply, accepted)
        with self._lock:
            # Without a 200 + result:true Kuaidi100 pushes again; here, on the next advance.
            waybill.repush = not accepted
            self.pushes.append(record)
        return record

    def answer_intercept(self, form: dict[str, str]) -> dict[str, Any]:
        """The answer envelope and error codes are unconfirmed; the checks are documented.

        docs/protocols.md, "Kuaidi100 / Intercept and address change".
        """
        param = _parse_json(form.get("param", "")) or {}
        expected = _md5_upper(form.get("param", "") + form.get("t", "") + self.key + self.secret)
        problem = self._intercept_problem(form, param, expected)
        with self._lock:
            self.intercepts.append(InterceptRecord(form, param, problem is None, problem or ""))
        if problem is not None:
            return {"success": False, "code": "400", "message": problem}
        if param.get("interceptType") in ("RETURN_SEND_ADDR", "RETURN_SEND_STATION"):
            self._turn_back(str(param.get("kuaidinum")))
        task = uuid.uuid4().hex
        return {"success": True, "code": "200", "message": "success", "data": {"taskId": task}}

    def _turn_back(self, number: str) -> None:
        """An accepted return intercept: the rest of the route becomes 退回, then 退签."""
        with self._lock:
            waybill = self.waybills[number]
            seen = waybill.history
            last = seen[-1] if seen else waybill.plan[0]
            at, place = (last.at if seen else self.start), last.place
            waybill.plan = [
                *seen,
                Trace(
                    at + timedelta(hours=1),
                    "6",
                    "6",
                    "退回",
                    "快件已按寄件人要求拦截，退回中",
                    place,
                ),
                Trace(
                    at + timedelta(hours=30), "4", "4", "退签", "快件已退回寄件人，已签收", place
                ),
            ]

    def _intercept_problem(
        self, form: dict[str, str], param: dict[str, Any], expected_sign: str
    ) -> str | None:
        if form.get("method") != "interceptOrder" or form.get("key") != self.key:
            return "参数错误"
        if form.get("sign") != expected_sign:
            return "签名错误"
        if param.get("interceptType") not in INTERCEPT_TYPES:
            return "拦截类型错误"
        recipient = _object(param.get("recManInfo"))
        if param.get("interceptType") == "MODIFY_ADDR" and not (
            recipient.get("name")
            and (recipient.get("mobile") or recipient.get("tel"))
            and recipient.get("printAddr")
        ):
            return "修改地址需填写收件人信息"
        with self._lock:
            waybill = self.waybills.get(str(param.get("kuaidinum") or ""))
            # The doc says "运输中且未签收". Whether a printed e-waybill the carrier has not
            # collected yet counts is not documented; the emulator accepts it (it is in the
            # carrier's system) and refuses only unknown and signed parcels.
            if waybill is None or waybill.is_signed:
                return "仅支持运输中且未签收的快件"
        return None

    async def _control_advance(self, request: Request) -> Response:
        number = (await _form(request)).get("number") or None
        pushes = await run_in_threadpool(self.advance, number)
        return JSONResponse([{"number": p.number, "accepted": p.accepted} for p in pushes])

    async def _control_outage(self, request: Request) -> Response:
        self.outage = (await _form(request)).get("enabled", "1") in ("1", "true", "on")
        return JSONResponse({"outage": self.outage})


def create_app() -> Starlette:
    """`uvicorn --factory emulators.kuaidi100:create_app --host 127.0.0.1 --port 9100`.

    Credentials come from EMULATOR_K100_CUSTOMER / _KEY / _SECRET (test values otherwise);
    POST /_emulator/advance moves the parcels, POST /_emulator/outage enabled=1|0.
    """
    return Kuaidi100Emulator(
        customer=os.environ.get("EMULATOR_K100_CUSTOMER", "TESTCUSTOMER"),
        key=os.environ.get("EMULATOR_K100_KEY", "TESTKEY"),
        secret=os.environ.get("EMULATOR_K100_SECRET", TEST_SECRET),
    ).app
