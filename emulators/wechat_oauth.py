"""A loopback WeChat 公众号 web OAuth2: the authorize redirect and the code exchange."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

# A code is single use and lives 5 minutes (docs/protocols.md, "WeChat web OAuth / Authorize").
CODE_LIFETIME = 5 * 60
SCOPES = ("snsapi_base", "snsapi_userinfo")


@dataclass
class WeChatUser:
    """Who is holding the phone: the emulator's "current user" inside WeChat."""

    openid: str = "oEmulatorUser0000000000000001"
    unionid: str | None = None
    refuses: bool = False  # answers the authorize page without a code
    snapshot: bool = False  # is_snapshotuser: browsing a snapshot page, not a real user


@dataclass
class _Code:
    appid: str
    openid: str
    unionid: str | None
    scope: str
    snapshot: bool
    expires_at: float
    used: bool = False


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class WeChatOAuthEmulator:
    """open.weixin.qq.com's authorize page and api.weixin.qq.com's sns/oauth2/access_token.

    `user` is the WeChat user the authorize page answers for. `exchange_errcode` makes the
    next exchanges fail with that errcode (as WeChat, with HTTP 200). Codes and their
    states are kept for tests in `codes_issued`.
    """

    def __init__(
        self, wechat_apps: Mapping[str, str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.wechat_apps = dict(wechat_apps)
        self.clock = clock
        self.user = WeChatUser()
        self.exchange_errcode: int | None = None
        # The 网页授权域名: when set, a redirect_uri on any other host is refused with
        # WeChat's own error page (full-host match, no port).
        self.authorized_host: str | None = None
        self.authorize_requests: list[dict[str, str]] = []
        self.exchanges = 0
        # Called with (appid, openid) after each code exchanged: the demo answers it with the
        # subscribe popup the user would see next (portal/demo_services.py).
        self.on_exchange: Callable[[str, str], None] | None = None
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()
        self.routes = [
            Route("/connect/oauth2/authorize", self._authorize, methods=["GET"]),
            Route("/sns/oauth2/access_token", self._access_token, methods=["GET"]),
        ]

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        with self._lock:
            self.authorize_requests.append(params)
        # WeChat shows an error page of its own for these; nothing goes back to the site.
        if params.get("appid") not in self.wechat_apps:
            return PlainTextResponse("参数错误: appid", status_code=400)
        if params.get("response_type") != "code" or params.get("scope") not in SCOPES:
            return PlainTextResponse("参数错误: response_type/scope", status_code=400)
        redirect_uri = params.get("redirect_uri", "")
        target = urlsplit(redirect_uri)
        if target.scheme not in ("http", "https"):
            return PlainTextResponse("redirect_uri 参数错误", status_code=400)
        if self.authorized_host is not None and target.netloc != self.authorized_host:
            return PlainTextResponse("redirect_uri域名与后台配置不一致, 错误码: 10003", 400)
        back = {"state": params.get("state", "")}
        user = self.user
        if not user.refuses:
            back = {"code": self._issue(params["appid"], params["scope"], user)} | back
        return RedirectResponse(_with_query(redirect_uri, back), status_code=302)

    def _issue(self, appid: str, scope: str, user: WeChatUser) -> str:
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[code] = _Code(
                appid,
                user.openid,
                user.unionid,
                scope,
                user.snapshot,
                self.clock() + CODE_LIFETIME,
            )
        return code

    async def _access_token(self, request: Request) -> Response:
        return JSONResponse(self.answer_exchange(dict(request.query_params)))

    def answer_exchange(self, params: Mapping[str, str]) -> dict[str, Any]:
        with self._lock:
            self.exchanges += 1
            if self.exchange_errcode is not None:
                return {"errcode": self.exchange_errcode, "errmsg": "emulated fault, rid: emu"}
            appid = params.get("appid", "")
            if appid not in self.wechat_apps:
                return {"errcode": 40013, "errmsg": "invalid appid, rid: emu"}
            if not hmac.compare_digest(params.get("secret", ""), self.wechat_apps[appid]):
                return {"errcode": 40125, "errmsg": "invalid appsecret, rid: emu"}
            if params.get("grant_type") != "authorization_code":
                return {"errcode": 40002, "errmsg": "invalid grant_type, rid: emu"}
            code = self._codes.get(params.get("code", ""))
            if code is None or code.appid != appid or code.expires_at <= self.clock():
                return {"errcode": 40029, "errmsg": "invalid code, rid: emu"}
            if code.used:
                return {"errcode": 40163, "errmsg": "code been used, rid: emu"}
            code.used = True
        answer: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(48),
            "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(48),
            "openid": code.openid,
            "scope": code.scope,
        }
        if code.unionid:
            answer["unionid"] = code.unionid
        if self.on_exchange is not None:
            self.on_exchange(appid, code.openid)
        if code.snapshot:
            answer["is_snapshotuser"] = 1
        return answer
