"""WeChat mini-program identity: wx.login's code -> openid (code2Session), a phone code -> phone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from backend.orders.wechat_oauth import WeChatIdentity

API_BASE_URL = "https://api.weixin.qq.com"
# docs/protocols.md, "WeChat mini-program / Login (code2Session)" and
# "WeChat mini-program / Phone number".
CODE2SESSION_PATH = "/sns/jscode2session"
PHONE_NUMBER_PATH = "/wxa/business/getuserphonenumber"
TIMEOUT = httpx.Timeout(5.0, connect=3.0)  # the mini-program waits on our answer

# docs/protocols.md, "WeChat mini-program / Error codes". The page lists exactly these for
# code2Session (getuserphonenumber answers 40029 and 45011 the same way); -1 is the only
# one worth trying again, and the user does that by tapping again (a new code), not us.
CODE2SESSION_ERRCODES: dict[int, str] = {
    40029: "invalid js_code",
    45011: "too frequent (100 logins per user per minute)",
    40226: "high-risk user, login blocked",
    -1: "system busy",
}
RETRYABLE_ERRCODES = frozenset({-1})
# The access token was refused: drop it and try once with a fresh one.
TOKEN_ERRCODES = frozenset({40001, 42001})


class MiniProgramFailed(Exception):
    """WeChat did not answer with an identity or a phone; `code` is its errcode if it sent one."""

    def __init__(self, reason: str, *, code: int | None = None, retryable: bool = False):
        label = f"{code}: {reason}" if code is not None else reason
        super().__init__(f"wechat mini-program: {label}")
        self.reason = reason
        self.code = code
        self.retryable = retryable


class AccessTokens(Protocol):
    """The mini-program's shared access token (backend/notifications/wechat_tokens.py)."""

    def token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...


@dataclass(frozen=True)
class VerifiedPhone:
    """The phone WeChat verified for the user; `pure` has no country code."""

    pure: str
    country_code: str


def build_code2session_params(appid: str, secret: str, js_code: str) -> dict[str, str]:
    return {
        "appid": appid,
        "secret": secret,
        "js_code": js_code,
        "grant_type": "authorization_code",
    }


def _errcode(payload: Mapping[str, Any]) -> int:
    try:
        return int(payload.get("errcode") or 0)
    except (TypeError, ValueError):
        raise MiniProgramFailed("errcode is not a number") from None


def _raise_for(errcode: int, payload: Mapping[str, Any], known: Mapping[int, str]) -> None:
    if errcode:
        errmsg = str(payload.get("errmsg") or "")  # keeps WeChat's rid for support
        raise MiniProgramFailed(
            errmsg or known.get(errcode, "unknown errcode"),
            code=errcode,
            retryable=errcode in RETRYABLE_ERRCODES,
        )


def parse_code2session(appid: str, payload: Mapping[str, Any]) -> WeChatIdentity:
    """The login answer as an identity; `session_key` is read by nobody and kept nowhere."""
    _raise_for(_errcode(payload), payload, CODE2SESSION_ERRCODES)
    openid = payload.get("openid")
    if not isinstance(openid, str) or not openid:
        raise MiniProgramFailed("answer has no openid")
    unionid = payload.get("unionid")
    return WeChatIdentity(appid, openid, unionid if isinstance(unionid, str) and unionid else None)


def build_phone_number_body(code: str, openid: str | None = None) -> dict[str, str]:
    """With the openid, WeChat also checks the phone code was made for that user."""
    return {"code": code} if openid is None else {"code": code, "openid": openid}


def parse_phone_number(payload: Mapping[str, Any]) -> VerifiedPhone:
    _raise_for(_errcode(payload), payload, {})
    info = payload.get("phone_info")
    if not isinstance(info, dict):
        raise MiniProgramFailed("answer has no phone_info")
    pure = info.get("purePhoneNumber")
    if not isinstance(pure, str) or not pure:
        raise MiniProgramFailed("answer has no purePhoneNumber")
    return VerifiedPhone(pure, str(info.get("countryCode") or ""))


def _json(response: httpx.Response) -> Mapping[str, Any]:
    if response.status_code >= 500:
        raise MiniProgramFailed(f"HTTP {response.status_code}", retryable=True)
    if response.status_code >= 400:
        raise MiniProgramFailed(f"HTTP {response.status_code}")
    try:
        payload = response.json()
    except ValueError:
        raise MiniProgramFailed("answer is not JSON") from None
    if not isinstance(payload, dict):
        raise MiniProgramFailed("answer is not a JSON object")
    return payload


class MiniProgramClient:
    """code2Session and getuserphonenumber for one mini-program, with timeouts set."""

    def __init__(
        self,
        http: httpx.Client,
        tokens: AccessTokens,
        *,
        appid: str,
        secret: str,
        base_url: str = API_BASE_URL,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self.appid = appid
        self._secret = secret
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> Mapping[str, Any]:
        try:
            response = self._http.request(
                method, self._base + path, timeout=self._timeout, **kwargs
            )
        except httpx.HTTPError as error:
            raise MiniProgramFailed(f"transport: {error!r}", retryable=True) from error
        return _json(response)

    def exchange_code(self, js_code: str) -> WeChatIdentity:
        params = build_code2session_params(self.appid, self._secret, js_code)
        return parse_code2session(self.appid, self._call("GET", CODE2SESSION_PATH, params=params))

    def phone_number(self, code: str, openid: str | None = None) -> VerifiedPhone:
        body = build_phone_number_body(code, openid)
        for attempt in (1, 2):
            token = self._tokens.token()
            payload = self._call(
                "POST", PHONE_NUMBER_PATH, params={"access_token": token}, json=body
            )
            if attempt == 1 and _errcode(payload) in TOKEN_ERRCODES:
                self._tokens.invalidate(token)  # another process may already hold a newer one
                continue
            return parse_phone_number(payload)
        raise AssertionError("unreachable: the second attempt always returns or raises")
