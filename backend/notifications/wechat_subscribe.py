"""WeChat mini-program subscribe messages (订阅消息) with a cached stable access token."""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx

from backend.breaker import Breaker
from backend.notifications.base import (
    DEFAULT_TIMEOUT,
    NotificationError,
    NotificationRejected,
    NotificationUnavailable,
    SendResult,
    json_object,
    request,
)

PROVIDER = "wechat_subscribe"
API_BASE_URL = "https://api.weixin.qq.com"
# The two calls: docs/protocols.md, "WeChat subscribe messages / Send" and
# "WeChat subscribe messages / Stable access token".
SEND_PATH = "/cgi-bin/message/subscribe/send"
# The official account's (公众号) one-time subscribe messages: the same body and errcodes
# for its own openids (docs/protocols.md, "WeChat subscribe messages / Official account
# bizsend").
BIZSEND_PATH = "/cgi-bin/message/subscribe/bizsend"
STABLE_TOKEN_PATH = "/cgi-bin/stable_token"  # noqa: S105 (a path, not a secret)
MINIPROGRAM_STATES = ("formal", "trial", "developer")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
ELLIPSIS = "…"

# Value limits per keyword type, in characters, from copies of WeChat's limits page
# (docs/protocols.md, "WeChat subscribe messages / Value limits"). Types with a format
# instead of a length (time, date, amount, enum) are passed through for WeChat to judge.
VALUE_LIMITS: dict[str, int] = {
    "thing": 20,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "character_string": 32,
    "phone_number": 17,
    "car_number": 8,
    "name": 10,  # 10 if any Chinese, 20 if all ASCII letters
    "phrase": 5,  # up to 5 Chinese characters only
}
# Free text can be shortened and still say something true; a shortened order number,
# phone or plate would be wrong, so those are refused instead.
_SHORTENED_KINDS = frozenset({"thing", "name", "phrase"})
_ZWJ = "\u200d"

# errcode tables. The send page lists 40003/40037/43101/47003/41030; the others are
# WeChat's global codes, several unconfirmed (docs/protocols.md, "WeChat subscribe
# messages / WeChat error codes").
TOKEN_INVALID_ERRCODES: dict[int, str] = {
    40001: "access_token invalid or not the latest",
    40014: "access_token malformed",
    42001: "access_token expired",
}
RETRYABLE_ERRCODES: dict[int, str] = {
    -1: "system busy",
    45009: "daily API quota reached",
    45011: "API called too often",
}
REJECTED_ERRCODES: dict[int, str] = {
    43101: "user refused, or the one-time authorisation was already used",
    40003: "touser is not a valid openid",
    40037: "template_id invalid",
    47003: "data value invalid for its keyword type",
    41030: "page does not exist in the released mini program",
    40013: "invalid appid",
    40125: "invalid appsecret",
    40164: "caller IP not in the API whitelist",
}


_T = TypeVar("_T")


class AccessTokenInvalid(NotificationUnavailable):
    """WeChat refused our cached access token (40001/40014/42001): fetch a new one."""


class WeChatBreaker(Breaker):
    """One per app and process, shared by its token and send calls (one host behind both).

    An open circuit is a NotificationUnavailable that certainly sent nothing, so the
    outbox retries it later like any outage.
    """

    def __init__(self, name: str = PROVIDER, **options: Any) -> None:
        super().__init__(name, **options)

    def opened(self, retry_after: float) -> Exception:
        return NotificationUnavailable(PROVIDER, f"circuit open, retry in {retry_after:.0f}s")


def call_wechat(breaker: Breaker, operation: Callable[[], _T]) -> _T:
    """One WeChat call through the breaker: outages and busy answers count against it.

    A refused token or any other answer proves WeChat is up, so it counts as a success.
    """
    breaker.before_call()
    try:
        result = operation()
    except AccessTokenInvalid:
        breaker.record_success()
        raise
    except NotificationUnavailable:
        breaker.record_failure()
        raise
    except Exception:
        breaker.record_success()
        raise
    breaker.record_success()
    return result


def keyword_kind(keyword: str) -> str:
    """ "thing1" -> "thing", "character_string19" -> "character_string"."""
    return re.sub(r"[0-9]+$", "", keyword)


def _glues_to_previous(value: str, index: int) -> bool:
    char = value[index]
    modifier = "\U0001f3fb" <= char <= "\U0001f3ff"  # emoji skin tones
    joined = index > 0 and value[index - 1] == _ZWJ
    # A joiner glues to both neighbours, so the cut may fall on neither side of it.
    return bool(unicodedata.combining(char)) or char in "\u200d\ufe0e\ufe0f" or modifier or joined


def shorten(value: str, limit: int, *, ellipsis: bool) -> str:
    """At most `limit` characters, never splitting a character from its marks or joiners."""
    end = limit - 1 if ellipsis else limit
    while 0 < end < len(value) and _glues_to_previous(value, end):
        end -= 1
    cut = value[:end].rstrip().rstrip(_ZWJ)
    return cut + ELLIPSIS if ellipsis else cut


def fit_value(keyword: str, value: str) -> str:
    """The value as WeChat will take it for `keyword`'s type, or NotificationRejected."""
    if not value.strip():
        raise NotificationRejected(PROVIDER, f"{keyword} is empty")
    kind = keyword_kind(keyword)
    limit = VALUE_LIMITS.get(kind)
    if kind == "name" and value.isascii():
        limit = 20
    if limit is None or len(value) <= limit:
        return value
    if kind not in _SHORTENED_KINDS:
        raise NotificationRejected(PROVIDER, f"{keyword} is longer than {limit} characters")
    # Only thing takes symbols; name and phrase must stay pure text.
    return shorten(value, limit, ellipsis=kind == "thing")


def build_subscribe_message(
    openid: str,
    template_id: str,
    data: Mapping[str, str],
    *,
    page: str | None = None,
    miniprogram_state: str = "formal",
    lang: str = "zh_CN",
) -> dict[str, Any]:
    """The JSON body of subscribe/send: data as {"thing1": {"value": "..."}}."""
    if miniprogram_state not in MINIPROGRAM_STATES:
        raise ValueError(f"miniprogram_state must be one of {MINIPROGRAM_STATES}")
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}")
    body: dict[str, Any] = {
        "touser": openid,
        "template_id": template_id,
        "data": {keyword: {"value": fit_value(keyword, v)} for keyword, v in data.items()},
        "miniprogram_state": miniprogram_state,
        "lang": lang,
    }
    if page:
        body["page"] = page  # without it the card opens nothing
    return body


def build_stable_token_request(
    appid: str, secret: str, *, force_refresh: bool = False
) -> dict[str, Any]:
    """The getStableAccessToken body. force_refresh kills the live token; 20 uses a day."""
    return {
        "grant_type": "client_credential",
        "appid": appid,
        "secret": secret,
        "force_refresh": force_refresh,
    }


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float  # on the provider's clock (monotonic seconds by default)


def _errcode(payload: Mapping[str, Any]) -> int:
    try:
        return int(payload.get("errcode") or 0)
    except (TypeError, ValueError):
        raise NotificationRejected(PROVIDER, "errcode is not a number") from None


def error_for(errcode: int, errmsg: str) -> NotificationError:
    """The exception for a non-zero errcode; unknown codes are terminal, raw code kept."""
    code = str(errcode)
    if errcode in TOKEN_INVALID_ERRCODES:
        return AccessTokenInvalid(PROVIDER, errmsg or TOKEN_INVALID_ERRCODES[errcode], code=code)
    if errcode in RETRYABLE_ERRCODES:
        return NotificationUnavailable(PROVIDER, errmsg or RETRYABLE_ERRCODES[errcode], code=code)
    return NotificationRejected(PROVIDER, errmsg or REJECTED_ERRCODES.get(errcode, ""), code=code)


def parse_token_response(
    payload: Mapping[str, Any], *, now: float, margin: float = 60.0
) -> AccessToken:
    """{"access_token","expires_in"} as a token to reuse until `margin` s before expiry.

    The early refresh keeps a token from expiring in flight; WeChat keeps the old
    stable token valid for 5 minutes after renewing it, so 60 s is safely inside.
    """
    errcode = _errcode(payload)
    if errcode:
        raise error_for(errcode, str(payload.get("errmsg") or ""))
    token, expires_in = payload.get("access_token"), payload.get("expires_in")
    if not isinstance(token, str) or not token or not isinstance(expires_in, int):
        raise NotificationUnavailable(PROVIDER, "token answer lacks access_token/expires_in")
    return AccessToken(token, now + max(expires_in - margin, 0.0))


def parse_send_response(payload: Mapping[str, Any], *, idempotency_key: str = "") -> SendResult:
    """errcode 0 as a SendResult; anything else raises, classified by the tables above."""
    errcode = _errcode(payload)
    if errcode:
        raise error_for(errcode, str(payload.get("errmsg") or ""))
    msgid = payload.get("msgid")  # not on the send page; kept when WeChat sends it
    return SendResult(PROVIDER, idempotency_key, None if msgid is None else str(msgid))


class TokenProvider(Protocol):
    """Hands out the current access token; a central token service can stand in."""

    def token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...


class StableTokenProvider:
    """getStableAccessToken, cached per process until shortly before it expires.

    The stable token rather than cgi-bin/token: each cgi-bin/token call issues a new
    token and retires the previous one, so two processes fetching independently keep
    breaking each other; the stable token is the same for every caller while valid.
    The lock makes concurrent workers share one fetch instead of racing.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        appid: str,
        secret: str,
        base_url: str = API_BASE_URL,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        margin: float = 60.0,
        breaker: Breaker | None = None,
    ) -> None:
        self._http = http
        self._appid = appid
        self._secret = secret
        self._url = base_url.rstrip("/") + STABLE_TOKEN_PATH
        self._timeout = timeout
        self._clock = clock
        self._margin = margin
        self._breaker = breaker or WeChatBreaker()
        self._cached: AccessToken | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            now = self._clock()
            if self._cached is None or now >= self._cached.expires_at:
                self._cached = self._fetch(now)
            return self._cached.value

    def invalidate(self, token: str) -> None:
        """Forget `token` if it is still the cached one (another thread may have renewed)."""
        with self._lock:
            if self._cached is not None and self._cached.value == token:
                self._cached = None

    def _fetch(self, now: float) -> AccessToken:
        body = build_stable_token_request(self._appid, self._secret)

        def call() -> AccessToken:
            response = request(
                self._http, "POST", self._url, provider=PROVIDER, timeout=self._timeout, json=body
            )
            payload = json_object(response, PROVIDER)
            return parse_token_response(payload, now=now, margin=self._margin)

        return call_wechat(self._breaker, call)


class WeChatClient:
    """The HTTP side of subscribe/send, with one token refresh when WeChat refuses ours.

    `send_path` is SEND_PATH for a mini-program and BIZSEND_PATH for an official account.

    subscribe/send has no dedupe field (client_msg_id exists only on the official
    account's template/send), so the idempotency key protects us on our side only.
    The access token has to travel in the query string: keep httpx's INFO log off.
    """

    provider = PROVIDER

    def __init__(
        self,
        http: httpx.Client,
        tokens: TokenProvider,
        *,
        base_url: str = API_BASE_URL,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        breaker: Breaker | None = None,
        send_path: str = SEND_PATH,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._url = base_url.rstrip("/") + send_path
        self._state = miniprogram_state
        self._lang = lang
        self._timeout = timeout
        self.breaker = breaker or WeChatBreaker()

    def send(
        self,
        openid: str,
        template_id: str,
        page: str | None,
        data: Mapping[str, str],
        idempotency_key: str,
    ) -> SendResult:
        body = build_subscribe_message(
            openid, template_id, data, page=page, miniprogram_state=self._state, lang=self._lang
        )
        token = self._tokens.token()
        try:
            return self._post(token, body, idempotency_key)
        except AccessTokenInvalid:
            # Once only: a fresh token refused again is WeChat's trouble, and the job
            # queue (AccessTokenInvalid is retryable) is the place to wait it out.
            self._tokens.invalidate(token)
            return self._post(self._tokens.token(), body, idempotency_key)

    def _post(self, token: str, body: Mapping[str, Any], idempotency_key: str) -> SendResult:
        def call() -> SendResult:
            response = request(
                self._http,
                "POST",
                self._url,
                provider=PROVIDER,
                timeout=self._timeout,
                params={"access_token": token},
                json=body,
            )
            payload = json_object(response, PROVIDER)
            return parse_send_response(payload, idempotency_key=idempotency_key)

        return call_wechat(self.breaker, call)
