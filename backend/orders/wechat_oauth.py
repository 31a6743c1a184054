"""WeChat 公众号 web OAuth2 (snsapi_base): the authorize URL, the code exchange, the state."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from itsdangerous import Signer
from itsdangerous.encoding import base64_decode, base64_encode

AUTHORIZE_BASE_URL = "https://open.weixin.qq.com"
API_BASE_URL = "https://api.weixin.qq.com"
# docs/protocols.md, "WeChat web OAuth / Authorize" and "WeChat web OAuth / Code exchange".
AUTHORIZE_PATH = "/connect/oauth2/authorize"
ACCESS_TOKEN_PATH = "/sns/oauth2/access_token"  # noqa: S105 (a path, not a secret)
SCOPE = "snsapi_base"
STATE_SALT = "wechat-oauth-state.v1"
# A code lives 5 minutes at WeChat; a state older than that can no longer succeed anyway.
STATE_MAX_AGE = 10 * 60
TIMEOUT = httpx.Timeout(5.0, connect=3.0)  # a customer is waiting on a redirect
_NONCE_BYTES = 12

# docs/protocols.md, "WeChat web OAuth / Error codes". 40029 and 40163 are the codes a
# stale or replayed callback gets; unknown codes are kept raw and treated as terminal.
CODE_ERRCODES: dict[int, str] = {
    40029: "invalid code (expired, used, wrong, or minted for another appid)",
    40163: "code already used",
}
RETRYABLE_ERRCODES: dict[int, str] = {-1: "system busy", 45009: "quota", 45011: "too often"}


class OAuthFailed(Exception):
    """WeChat did not give us an openid; `code` is WeChat's errcode when it sent one."""

    def __init__(self, reason: str, *, code: str | None = None, retryable: bool = False):
        super().__init__(f"wechat oauth: {code}: {reason}" if code else f"wechat oauth: {reason}")
        self.reason = reason
        self.code = code
        self.retryable = retryable


class StateInvalid(Exception):
    """The state was forged, altered, expired, or signed for another session or page."""


@dataclass(frozen=True)
class WeChatIdentity:
    """Who the WeChat user is to one app: openid always, unionid only when WeChat sends it."""

    appid: str
    openid: str
    unionid: str | None = None


@dataclass(frozen=True)
class OAuthState:
    """What a verified state says: its nonce (to be used once) and when it was issued."""

    nonce: str
    issued_at: int


def is_local_path(target: str) -> bool:
    """A path on this site only: no scheme, no host, no `//` or backslash tricks."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(char) < 0x21 for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def build_authorize_url(
    appid: str, redirect_uri: str, state: str, *, base_url: str = AUTHORIZE_BASE_URL
) -> str:
    """The page WeChat's browser is sent to; the fragment is mandatory, the order is WeChat's."""
    query = urlencode(
        {
            "appid": appid,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": SCOPE,
            "state": state,
        }
    )
    return f"{base_url.rstrip('/')}{AUTHORIZE_PATH}?{query}#wechat_redirect"


def build_code_exchange_params(appid: str, secret: str, code: str) -> dict[str, str]:
    return {
        "appid": appid,
        "secret": secret,
        "code": code,
        "grant_type": "authorization_code",
    }


def parse_code_exchange(appid: str, payload: Mapping[str, Any]) -> WeChatIdentity:
    """The exchange answer as an identity, or OAuthFailed classified by errcode."""
    try:
        errcode = int(payload.get("errcode") or 0)
    except (TypeError, ValueError):
        raise OAuthFailed("errcode is not a number") from None
    if errcode:
        errmsg = str(payload.get("errmsg") or "")  # keeps WeChat's rid for support
        known = CODE_ERRCODES.get(errcode) or RETRYABLE_ERRCODES.get(errcode, "")
        raise OAuthFailed(
            errmsg or known, code=str(errcode), retryable=errcode in RETRYABLE_ERRCODES
        )
    openid = payload.get("openid")
    if not isinstance(openid, str) or not openid:
        raise OAuthFailed("answer has no openid")
    if payload.get("is_snapshotuser") == 1:
        # A snapshot-page virtual account, not a real user: never bind orders to it.
        raise OAuthFailed("snapshot user (快照页模式)", code="is_snapshotuser")
    unionid = payload.get("unionid")
    return WeChatIdentity(appid, openid, unionid if isinstance(unionid, str) and unionid else None)


class StateSigner:
    """States WeChat carries back: `[0-9a-f]` only, bound to a customer session and a path.

    WeChat allows at most 128 bytes of `[a-zA-Z0-9]` in `state`, so an itsdangerous token
    (base64 with `-_.`, and a path inside) cannot travel as it is. The state is the nonce,
    the issue time and the itsdangerous HMAC of (nonce, time, session, path), all in hex:
    88 characters. The path travels beside it in the callback URL and is covered by it.
    """

    def __init__(self, secret_keys: tuple[str, ...] | list[str]) -> None:
        # itsdangerous signs with the last key and verifies with all of them.
        self._signer = Signer(list(secret_keys), salt=STATE_SALT, digest_method=hashlib.sha256)

    @staticmethod
    def _value(nonce: str, issued_at: int, binding: str, path: str) -> bytes:
        return f"{nonce}|{issued_at}|{binding}|{path}".encode()

    def sign(self, binding: str, path: str, *, now: float | None = None) -> str:
        nonce = secrets.token_hex(_NONCE_BYTES)
        issued_at = int(time.time() if now is None else now)
        signature = self._signer.get_signature(self._value(nonce, issued_at, binding, path))
        return f"{nonce}{issued_at:08x}{base64_decode(signature).hex()}"

    def verify(
        self, state: str, binding: str, path: str, *, now: float | None = None
    ) -> OAuthState:
        nonce_length = _NONCE_BYTES * 2
        if len(state) != nonce_length + 8 + 64 or not all(c in "0123456789abcdef" for c in state):
            raise StateInvalid
        nonce, stamp, signature = state[:nonce_length], state[nonce_length:-64], state[-64:]
        issued_at = int(stamp, 16)
        value = self._value(nonce, issued_at, binding, path)
        # verify_signature answers True/False (it raises nothing), trying every key.
        if not self._signer.verify_signature(value, base64_encode(bytes.fromhex(signature))):
            raise StateInvalid
        age = (time.time() if now is None else now) - issued_at
        if not 0 <= age <= STATE_MAX_AGE:
            raise StateInvalid
        return OAuthState(nonce, issued_at)


def same_state(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode(), right.encode())


class WeChatOAuthClient:
    """The one server-side call of the round trip: code -> openid, with timeouts set."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        appid: str,
        secret: str,
        authorize_base_url: str = AUTHORIZE_BASE_URL,
        api_base_url: str = API_BASE_URL,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self._http = http
        self.appid = appid
        self._secret = secret
        self.authorize_base_url = authorize_base_url
        self._url = api_base_url.rstrip("/") + ACCESS_TOKEN_PATH
        self._timeout = timeout

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        return build_authorize_url(
            self.appid, redirect_uri, state, base_url=self.authorize_base_url
        )

    def exchange_code(self, code: str) -> WeChatIdentity:
        params = build_code_exchange_params(self.appid, self._secret, code)
        try:
            response = self._http.get(self._url, params=params, timeout=self._timeout)
        except httpx.HTTPError as error:
            raise OAuthFailed(f"transport: {error!r}", retryable=True) from error
        if response.status_code >= 500:
            raise OAuthFailed(f"HTTP {response.status_code}", retryable=True)
        if response.status_code >= 400:
            raise OAuthFailed(f"HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError:
            raise OAuthFailed("answer is not JSON") from None
        if not isinstance(payload, dict):
            raise OAuthFailed("answer is not a JSON object")
        return parse_code_exchange(self.appid, payload)
