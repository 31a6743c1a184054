"""A loopback WeChat mini-program server API: jscode2session and getuserphonenumber."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# Both kinds of code are single use and live 5 minutes (docs/protocols.md,
# "WeChat mini-program / Login (code2Session)" and "WeChat mini-program / Phone number").
CODE_LIFETIME = 5 * 60


@dataclass
class _LoginCode:
    appid: str
    openid: str
    unionid: str | None
    expires_at: float
    used: bool = False


@dataclass
class _PhoneCode:
    appid: str
    openid: str
    phone: str
    country_code: str
    expires_at: float
    used: bool = False


class MiniProgramEmulator:
    """What wx.login and the phone-number button would hand the mini-program, and WeChat's
    server answers for them.

    Tests (or POST /_emulator/miniprogram/codes) mint codes as the phone would; `token_refusal`
    is the host emulator's access-token check (None for a live token). `login_errcode` makes
    every login answer with that errcode, as WeChat does with HTTP 200.
    """

    def __init__(
        self,
        apps: Mapping[str, str],
        token_refusal: Callable[[str], dict[str, Any] | None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.apps = dict(apps)
        self.token_refusal = token_refusal
        self.clock = clock
        self.login_errcode: int | None = None
        self.logins = 0
        self.phone_requests: list[dict[str, Any]] = []
        self._logins: dict[str, _LoginCode] = {}
        self._phones: dict[str, _PhoneCode] = {}
        self._lock = threading.Lock()
        self.routes = [
            Route("/sns/jscode2session", self._jscode2session, methods=["GET"]),
            Route("/wxa/business/getuserphonenumber", self._phone_number, methods=["POST"]),
            Route("/_emulator/miniprogram/codes", self._mint, methods=["POST"]),
        ]

    def login_code(self, appid: str, openid: str, unionid: str | None = None) -> str:
        """What wx.login returns inside the mini-program `appid` for this user."""
        code = secrets.token_hex(16)
        with self._lock:
            self._logins[code] = _LoginCode(appid, openid, unionid, self.clock() + CODE_LIFETIME)
        return code

    def phone_code(self, appid: str, openid: str, phone: str, country_code: str = "86") -> str:
        """What the getPhoneNumber button's event carries once the user agreed."""
        code = secrets.token_hex(32)
        expires_at = self.clock() + CODE_LIFETIME
        with self._lock:
            self._phones[code] = _PhoneCode(appid, openid, phone, country_code, expires_at)
        return code

    async def _mint(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "a JSON object with appid and openid"}, 400)
        appid, openid = str(body.get("appid", "")), str(body.get("openid", ""))
        answer = {"login_code": self.login_code(appid, openid, body.get("unionid"))}
        if body.get("phone"):
            answer["phone_code"] = self.phone_code(appid, openid, str(body["phone"]))
        return JSONResponse(answer)

    async def _jscode2session(self, request: Request) -> Response:
        return JSONResponse(self.answer_login(dict(request.query_params)))

    def answer_login(self, params: Mapping[str, str]) -> dict[str, Any]:
        with self._lock:
            self.logins += 1
            if self.login_errcode is not None:
                return {"errcode": self.login_errcode, "errmsg": "emulated fault, rid: emu"}
            appid = params.get("appid", "")
            if appid not in self.apps:
                return {"errcode": 40013, "errmsg": "invalid appid, rid: emu"}
            if not hmac.compare_digest(params.get("secret", ""), self.apps[appid]):
                return {"errcode": 40125, "errmsg": "invalid appsecret, rid: emu"}
            if params.get("grant_type") != "authorization_code":
                return {"errcode": 40002, "errmsg": "invalid grant_type, rid: emu"}
            code = self._logins.get(params.get("js_code", ""))
            # WeChat answers a used, expired or foreign code alike: 40029.
            if code is None or code.used or code.appid != appid or code.expires_at <= self.clock():
                return {"errcode": 40029, "errmsg": "invalid code, rid: emu"}
            code.used = True
        answer: dict[str, Any] = {"openid": code.openid, "session_key": secrets.token_urlsafe(16)}
        if code.unionid:
            answer["unionid"] = code.unionid
        return answer

    async def _phone_number(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        token = request.query_params.get("access_token", "")
        return JSONResponse(self.answer_phone(token, body if isinstance(body, dict) else {}))

    def answer_phone(self, token: str, body: Mapping[str, Any]) -> dict[str, Any]:
        refusal = self.token_refusal(token)
        if refusal is not None:
            return refusal
        with self._lock:
            self.phone_requests.append(dict(body))
            code = self._phones.get(str(body.get("code") or ""))
            if code is None or code.used or code.expires_at <= self.clock():
                return {"errcode": 40029, "errmsg": "invalid code, rid: emu"}
            if "openid" in body and body["openid"] != code.openid:
                return {"errcode": 40029, "errmsg": "invalid code (openid), rid: emu"}
            code.used = True
        watermark = {"timestamp": int(self.clock()), "appid": code.appid}
        prefix = "" if code.country_code == "86" else f"+{code.country_code}"
        info = {
            "phoneNumber": prefix + code.phone,
            "purePhoneNumber": code.phone,
            "countryCode": code.country_code,
            "watermark": watermark,
        }
        return {"errcode": 0, "errmsg": "ok", "phone_info": info}
