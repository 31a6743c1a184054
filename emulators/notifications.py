"""A loopback Aliyun SMS (SendSms) and WeChat subscribe-message API, with a message log."""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.aliyun_signing import SignedCall, check_acs3, check_rpc
from emulators.wechat_miniprogram import MiniProgramEmulator
from emulators.wechat_oauth import WeChatOAuthEmulator

DEMO_ALIYUN_KEYS = {"LTAIemulatorKeyId": "emulator-access-key-secret"}
DEMO_WECHAT_APPS = {"wx00000000emulator": "emulator-app-secret"}
DEMO_MINIPROGRAM_APPS = {"wx0000000miniprogram": "emulator-miniprogram-secret"}
# Aliyun refuses requests whose Timestamp is too far off (15 minutes is unconfirmed, from
# SDK issues: docs/protocols.md, "Aliyun SMS / SMS signature").
TIMESTAMP_TOLERANCE = 15 * 60
_REQUIRED = ("PhoneNumbers", "SignName", "TemplateCode")
_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
# Subscribe-message value limits, re-stated here rather than imported (docs/protocols.md,
# "WeChat subscribe messages / Value limits").
_WECHAT_LIMITS = dict(
    thing=20, number=32, letter=32, symbol=5, character_string=32, phone_number=17, car_number=8
) | {"name": 20, "phrase": 5}


@dataclass
class Fault:
    """How a channel misbehaves: an HTTP status, a business error code, or a slow answer."""

    status: int | None = None
    code: str | None = None  # Aliyun Code ("isv.BUSINESS_LIMIT_CONTROL") or WeChat errcode
    delay: float = 0.0  # answer (and act) this late: the client may time out after we sent
    times: int | None = None  # calls affected; None until cleared


class NotificationEmulator:
    """Both providers on one app. Aliyun lives at "/", WeChat under /cgi-bin/ (and its web
    OAuth under /connect/ and /sns/, emulators/wechat_oauth.py; the mini-program's login
    and phone number under /sns/ and /wxa/, emulators/wechat_miniprogram.py).

    Every accepted message is kept in `messages` (also GET /_emulator/messages) for tests
    and the demo's message log. Aliyun does not deduplicate ("不支持幂等"), so an
    OutId seen twice is stored twice, with two BizIds: deduplication is our job.
    """

    def __init__(
        self,
        *,
        aliyun_keys: Mapping[str, str] = DEMO_ALIYUN_KEYS,
        sign_names: Collection[str] | None = None,
        sms_templates: Mapping[str, str] | None = None,
        wechat_apps: Mapping[str, str] = DEMO_WECHAT_APPS,
        miniprogram_apps: Mapping[str, str] = DEMO_MINIPROGRAM_APPS,
        require_grants: bool = False,
        token_lifetime: int = 7200,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.aliyun_keys = dict(aliyun_keys)
        self.sign_names = None if sign_names is None else set(sign_names)  # None: any
        self.sms_templates = None if sms_templates is None else dict(sms_templates)
        # Every app gets access tokens here; only mini-programs log users in with wx.login.
        self.wechat_apps = dict(wechat_apps) | dict(miniprogram_apps)
        # One wx.requestSubscribeMessage acceptance allows one send: when set, a send
        # needs a grant (POST /_emulator/wechat/grants) and uses it up, else 43101.
        self.require_grants = require_grants
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.messages: list[dict[str, Any]] = []
        self.faults: dict[str, Fault] = {}
        self.token_requests = 0
        self.tokens_issued = 0  # new tokens minted (normal mode hands the live one back)
        self._grants: dict[tuple[str, str], int] = {}
        self._tokens: dict[str, tuple[str, float]] = {}  # appid -> (token, expires at)
        self._nonces: set[str] = set()
        self._tickets: dict[str, tuple[str, float]] = {}  # appid -> (jsapi_ticket, expires at)
        self.ticket_requests = 0
        self._lock = threading.Lock()
        # The 公众号 web OAuth round trip, on the same host as WeChat's other APIs: the demo
        # points both the authorize and the API base URL here.
        self.oauth = WeChatOAuthEmulator(dict(wechat_apps), clock=clock)
        self.miniprogram = MiniProgramEmulator(miniprogram_apps, self.token_refusal, clock=clock)
        self.app = Starlette(
            routes=[
                *self.oauth.routes,
                *self.miniprogram.routes,
                Route("/", self._aliyun, methods=["GET", "POST"]),
                Route("/cgi-bin/stable_token", self._stable_token, methods=["POST"]),
                Route("/cgi-bin/message/subscribe/send", self._subscribe_send, methods=["POST"]),
                Route("/cgi-bin/message/subscribe/bizsend", self._bizsend, methods=["POST"]),
                Route("/cgi-bin/ticket/getticket", self._getticket, methods=["GET"]),
                Route("/_emulator/messages", self._messages, methods=["GET", "DELETE"]),
                Route("/_emulator/fault", self._fault, methods=["POST", "DELETE"]),
                Route("/_emulator/wechat/grants", self._grant, methods=["POST"]),
                Route("/_emulator/wechat/expire-tokens", self._expire, methods=["POST"]),
            ]
        )

    def set_fault(self, channel: str, fault: Fault) -> None:
        """Make "sms", "wechat" or "all" misbehave until `clear_faults` (or `times` runs out)."""
        with self._lock:
            for name in ("sms", "wechat") if channel == "all" else (channel,):
                self.faults[name] = replace(fault)  # each channel counts its own `times`

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def grant(self, openid: str, template_id: str, count: int = 1) -> None:
        with self._lock:
            key = (openid, template_id)
            self._grants[key] = self._grants.get(key, 0) + count

    def expire_tokens(self) -> None:
        """Every issued access token stops working, as after a force refresh elsewhere."""
        with self._lock:
            self._tokens.clear()

    def sent(self, channel: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self.messages if channel in (None, m["channel"])]

    def _take_fault(self, channel: str) -> Fault | None:
        with self._lock:
            fault = self.faults.get(channel)
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self.faults[channel]
            return fault

    def _store(self, message: dict[str, Any]) -> None:
        message["received_at"] = datetime.fromtimestamp(self.clock(), UTC).isoformat()
        with self._lock:
            self.messages.append(message)

    async def _aliyun(self, request: Request) -> Response:
        body = await request.body()
        query = parse_qsl(request.url.query, keep_blank_values=True)
        params = dict(query)
        if request.method == "POST":
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        fault = self._take_fault("sms")
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return Response("Service Unavailable", status_code=fault.status)
            if fault.code is not None:
                return JSONResponse(_aliyun_error(fault.code, "emulated fault"))
        headers = {name.lower(): value for name, value in request.headers.items()}
        if headers.get("authorization", "").startswith("ACS3-"):
            signed = check_acs3(
                request.method, request.url.path, query, headers, body, self.aliyun_keys
            )
        else:
            signed = check_rpc(request.method, params, self.aliyun_keys)
        status, answer = self.answer_sms(signed, params)
        return JSONResponse(answer, status_code=status)

    def answer_sms(
        self, signed: SignedCall | tuple[int, str, str], params: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one SendSms call, gateway checks first.

        Business refusals (isv.*) come with HTTP 200 and a Code, as SDK wrappers expect.
        """
        refusal = self._check_gateway(signed, params)
        if refusal is not None:
            return refusal
        assert isinstance(signed, SignedCall)
        phones = [_MOBILE.fullmatch(p.strip()) for p in params["PhoneNumbers"].split(",")]
        if not all(phones):
            return 200, _aliyun_error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if self.sign_names is not None and params["SignName"] not in self.sign_names:
            return 200, _aliyun_error("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        template = None
        if self.sms_templates is not None:
            template = self.sms_templates.get(params["TemplateCode"])
            if template is None:
                return 200, _aliyun_error("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        variables = _json_object(params.get("TemplateParam") or "{}")
        if variables is None:
            return 200, _aliyun_error("isv.INVALID_JSON_PARAM", "JSON参数不合法")
        missing = set(re.findall(r"\$\{(\w+)\}", template or "")) - set(variables)
        if missing:
            return 200, _aliyun_error("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        biz_id = f"{secrets.randbelow(10**18):018d}^0"
        content = _render(params["SignName"], template, variables)
        for match in phones:
            assert match is not None
            self._store(
                {
                    "channel": "sms",
                    "phone": match.group(1),
                    "sign_name": params["SignName"],
                    "template_code": params["TemplateCode"],
                    "params": variables,
                    "out_id": params.get("OutId"),
                    "biz_id": biz_id,
                    "content": content,
                    "signature_method": signed.signature_method,
                }
            )
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": _request_id()}

    def _check_gateway(
        self, signed: SignedCall | tuple[int, str, str], params: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]] | None:
        # Unconfirmed: codes, statuses and messages of the RPC gateway are from SDK issue threads.
        if not isinstance(signed, SignedCall):
            status, code, message = signed
            return status, _aliyun_error(code, message)
        if signed.action != "SendSms" or signed.version != "2017-05-25":
            return 404, _aliyun_error("InvalidAction.NotFound", "Specified api is not found.")
        for name in _REQUIRED:
            if not params.get(name):
                return 400, _aliyun_error(f"Missing{name}", f"{name} is mandatory.")
        return self._check_replay(signed.timestamp, signed.nonce)

    def _check_replay(self, timestamp: str, nonce: str) -> tuple[int, dict[str, Any]] | None:
        try:
            sent_at = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return 400, _aliyun_error("InvalidTimeStamp.Format", "Specified time stamp is invalid.")
        if abs(sent_at.timestamp() - self.clock()) > TIMESTAMP_TOLERANCE:
            return 400, _aliyun_error("InvalidTimeStamp.Expired", "Specified time stamp expired.")
        with self._lock:
            if nonce in self._nonces:
                return 400, _aliyun_error("SignatureNonceUsed", "Specified nonce was used already.")
            self._nonces.add(nonce)
        return None

    async def _wechat_fault(self) -> Response | None:
        fault = self._take_fault("wechat")
        if fault is None:
            return None
        await asyncio.sleep(fault.delay)
        if fault.status is not None:
            return Response("Service Unavailable", status_code=fault.status)
        if fault.code is not None:
            return JSONResponse({"errcode": int(fault.code), "errmsg": "emulated fault"})
        return None

    async def _stable_token(self, request: Request) -> Response:
        body = await _json_body(request)
        return await self._wechat_fault() or JSONResponse(self.answer_token(body))

    def answer_token(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if body.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        appid = str(body.get("appid", ""))
        if appid not in self.wechat_apps:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if not hmac.compare_digest(str(body.get("secret", "")), self.wechat_apps[appid]):
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        now = self.clock()
        with self._lock:
            self.token_requests += 1
            current = self._tokens.get(appid)
            # Normal mode hands back the live token; force_refresh replaces it.
            if current is None or current[1] <= now or body.get("force_refresh") is True:
                current = (secrets.token_urlsafe(48), now + self.token_lifetime)
                self._tokens[appid] = current
                self.tokens_issued += 1
        return {"access_token": current[0], "expires_in": int(current[1] - now)}

    async def _subscribe_send(self, request: Request) -> Response:
        body = await _json_body(request)
        token = request.query_params.get("access_token", "")
        return await self._wechat_fault() or JSONResponse(self.answer_send(token, body))

    async def _bizsend(self, request: Request) -> Response:
        body = await _json_body(request)
        token = request.query_params.get("access_token", "")
        return await self._wechat_fault() or JSONResponse(
            self.answer_send(token, body, api="bizsend")
        )

    def token_refusal(self, token: str) -> dict[str, Any] | None:
        """WeChat's answer to a call with this access token, or None while it is live."""
        with self._lock:
            live = {value: expires for value, expires in self._tokens.values()}
        if token not in live:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
        if live[token] <= self.clock():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def answer_send(self, token: str, body: Mapping[str, Any], api: str = "send") -> dict[str, Any]:
        """One subscribe/send (mini-program) or subscribe/bizsend (official account) call.

        Both take the same body and answer the same errcodes; the stored message says
        which API carried it, so a test can tell an official account's message apart.
        """
        token_refused = self.token_refusal(token)
        if token_refused is not None:
            return token_refused
        openid, template_id = str(body.get("touser") or ""), str(body.get("template_id") or "")
        if not re.fullmatch(r"[A-Za-z0-9_-]{6,64}", openid):
            return {"errcode": 40003, "errmsg": "invalid openid"}
        if not template_id:
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        values, refusal = _wechat_values(body.get("data"))
        if refusal is not None:
            return {"errcode": 47003, "errmsg": f"argument invalid! {refusal}"}
        with self._lock:
            left = self._grants.get((openid, template_id), 0)
            if self.require_grants:
                if left <= 0:
                    return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
                self._grants[(openid, template_id)] = left - 1
        msgid = secrets.randbelow(10**18)  # unconfirmed: msgid is not on the send page
        self._store(
            {"channel": "wechat", "openid": openid, "template_id": template_id}
            | {"page": body.get("page"), "data": values, "msgid": str(msgid), "api": api}
        )
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    async def _getticket(self, request: Request) -> Response:
        token = request.query_params.get("access_token", "")
        kind = request.query_params.get("type", "")
        return await self._wechat_fault() or JSONResponse(self.answer_ticket(token, kind))

    def answer_ticket(self, token: str, kind: str) -> dict[str, Any]:
        """getticket: like the token, one live ticket per app, handed back until it expires."""
        now = self.clock()
        with self._lock:
            apps = {value: (appid, expires) for appid, (value, expires) in self._tokens.items()}
            if token not in apps:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            appid, expires = apps[token]
            if expires <= now:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if kind != "jsapi":
                return {"errcode": 40097, "errmsg": "invalid args"}
            self.ticket_requests += 1
            current = self._tickets.get(appid)
            if current is None or current[1] <= now:
                current = (secrets.token_urlsafe(64), now + self.token_lifetime)
                self._tickets[appid] = current
        return {
            "errcode": 0,
            "errmsg": "ok",
            "ticket": current[0],
            "expires_in": int(current[1] - now),
        }

    async def _messages(self, request: Request) -> Response:
        if request.method == "DELETE":
            with self._lock:
                self.messages.clear()
            return JSONResponse({"messages": []})
        return JSONResponse({"messages": self.sent(request.query_params.get("channel"))})

    async def _fault(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear_faults()
            return JSONResponse({"faults": {}})
        body = await _json_body(request)
        code = body.get("code")
        fault = Fault(
            status=body.get("status"),
            code=None if code is None else str(code),
            delay=float(body.get("delay") or 0.0),
            times=body.get("times"),
        )
        self.set_fault(str(body.get("channel") or "all"), fault)
        return JSONResponse({"faults": sorted(self.faults)})

    async def _grant(self, request: Request) -> Response:
        body = await _json_body(request)
        self.grant(str(body["openid"]), str(body["template_id"]), int(body.get("count", 1)))
        return JSONResponse({"ok": True})

    async def _expire(self, request: Request) -> Response:
        self.expire_tokens()
        return JSONResponse({"ok": True})


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def _aliyun_error(code: str, message: str) -> dict[str, Any]:
    return {"Code": code, "Message": message, "RequestId": _request_id()}


def _render(sign_name: str, template: str | None, variables: Mapping[str, Any]) -> str:
    if template is None:
        return f"【{sign_name}】" + json.dumps(variables, ensure_ascii=False)
    text = re.sub(r"\$\{(\w+)\}", lambda m: str(variables.get(m.group(1), "")), template)
    return f"【{sign_name}】{text}"


def _wechat_values(data: Any) -> tuple[dict[str, str], str | None]:
    """({keyword: value}, None) or ({}, what WeChat's 47003 errmsg names)."""
    if not isinstance(data, dict) or not data:
        return {}, "data invalid"
    values: dict[str, str] = {}
    for keyword, item in data.items():
        value = item.get("value") if isinstance(item, dict) else None
        limit = _WECHAT_LIMITS.get(re.sub(r"[0-9]+$", "", keyword))
        if keyword.startswith("name") and isinstance(value, str) and not value.isascii():
            limit = 10
        if not isinstance(value, str) or not value or (limit and len(value) > limit):
            return {}, f"data.{keyword}.value invalid"
        values[keyword] = value
    return values, None


def _json_object(text: str | bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _json_body(request: Request) -> dict[str, Any]:
    return _json_object(await request.body() or b"{}") or {}


def main() -> None:
    """`python -m emulators.notifications [--port N]`: serve both providers on loopback."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--require-grants", action="store_true")
    args = parser.parse_args()
    emulator = NotificationEmulator(require_grants=args.require_grants)
    print(f"Aliyun endpoint / WeChat base URL: http://127.0.0.1:{args.port}")
    print(f"Aliyun keys: {DEMO_ALIYUN_KEYS}  WeChat apps: {DEMO_WECHAT_APPS}")
    print(f"WeChat mini-programs: {DEMO_MINIPROGRAM_APPS}")
    uvicorn.run(emulator.app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
