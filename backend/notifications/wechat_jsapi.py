"""The 公众号 JS-SDK: the jsapi_ticket kept in the database, and the signed wx.config values."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.breaker import Breaker
from backend.clock import utcnow
from backend.db import Database
from backend.notifications.base import NotificationUnavailable, json_object, request
from backend.notifications.models import WeChatJsapiTicket
from backend.notifications.wechat_subscribe import (
    API_BASE_URL,
    PROVIDER,
    AccessTokenInvalid,
    TokenProvider,
    WeChatBreaker,
    call_wechat,
    error_for,
)
from backend.notifications.wechat_tokens import DEFAULT_MARGIN, TOKEN_TIMEOUT

# docs/protocols.md, "WeChat JS-SDK / Ticket".
TICKET_PATH = "/cgi-bin/ticket/getticket"


@dataclass(frozen=True)
class JsapiConfig:
    """What wx.config needs besides the API lists, signed for one page URL."""

    appid: str
    timestamp: int
    nonce: str
    signature: str


def page_url_for_signature(url: str) -> str:
    """The URL WeChat signs: the page's own, without its #fragment, nothing escaped."""
    return url.partition("#")[0]


def build_jsapi_signature(ticket: str, nonce: str, timestamp: int, url: str) -> str:
    """sha1 of the four fields in ASCII order, raw values (docs/protocols.md,
    "WeChat JS-SDK / Signature")."""
    text = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def build_jsapi_config(appid: str, ticket: str, url: str, timestamp: int) -> JsapiConfig:
    """Signed values for `url` at `timestamp`.

    The nonce is derived from the other inputs rather than drawn at random so that the
    same page in the same minute is the same HTML and the page cache keeps working; it is
    still unguessable without the ticket, which never leaves the server.
    """
    url = page_url_for_signature(url)
    seed = f"{ticket}|{url}|{timestamp}".encode()
    nonce = hashlib.sha256(seed).hexdigest()[:16]
    return JsapiConfig(
        appid, timestamp, nonce, build_jsapi_signature(ticket, nonce, timestamp, url)
    )


def parse_ticket_response(payload: Mapping[str, Any]) -> tuple[str, int]:
    """(ticket, expires_in) from getticket; errcodes are classified as for every WeChat call."""
    try:
        errcode = int(payload.get("errcode") or 0)
    except (TypeError, ValueError):
        errcode = -1
    if errcode:
        raise error_for(errcode, str(payload.get("errmsg") or ""))
    ticket, expires_in = payload.get("ticket"), payload.get("expires_in")
    if not isinstance(ticket, str) or not ticket or not isinstance(expires_in, int):
        raise NotificationUnavailable(PROVIDER, "ticket answer lacks ticket/expires_in")
    return ticket, expires_in


def _usable(row: WeChatJsapiTicket | None, now: datetime, margin: timedelta) -> str | None:
    if row is None or row.ticket is None or row.expires_at is None:
        return None
    return row.ticket if row.expires_at - margin > now else None


class DatabaseTicketProvider:
    """The app's jsapi_ticket from `wechat_jsapi_tickets`, refreshed by one process at a time.

    Same shape as DatabaseTokenProvider (backend/notifications/wechat_tokens.py): read,
    and when missing or expiring lock the row, look again, then fetch. The access token is
    taken before the lock: on SQLite a token refresh is itself a write transaction, and
    starting it while holding the write lock would wait for ourselves.
    """

    def __init__(
        self,
        database: Database,
        http: httpx.Client,
        tokens: TokenProvider,
        *,
        appid: str,
        base_url: str = API_BASE_URL,
        timeout: httpx.Timeout = TOKEN_TIMEOUT,
        clock: Callable[[], datetime] = utcnow,
        margin: timedelta = DEFAULT_MARGIN,
        breaker: Breaker | None = None,
    ) -> None:
        self._database = database
        self._http = http
        self._tokens = tokens
        self._appid = appid
        self._url = base_url.rstrip("/") + TICKET_PATH
        self._timeout = timeout
        self._clock = clock
        self._margin = margin
        self._breaker = breaker or WeChatBreaker()

    def ticket(self) -> str:
        with self._database.read() as session:
            row = session.get(WeChatJsapiTicket, self._appid)
            stored = _usable(row, self._clock(), self._margin)
        if stored is not None:
            return stored
        token = self._tokens.token()
        try:
            return self._refresh(token)
        except AccessTokenInvalid:
            # Once, as a send does: a fresh token refused again is WeChat's trouble.
            self._tokens.invalidate(token)
            return self._refresh(self._tokens.token())

    def _refresh(self, token: str) -> str:
        with self._database.write() as session:
            row = _locked_row(session, self._appid)
            stored = _usable(row, self._clock(), self._margin)
            if stored is not None:
                return stored  # refreshed by another process while we waited for the lock
            value, expires_in = self._fetch(token)
            now = self._clock()
            row.ticket, row.refreshed_at = value, now
            row.expires_at = now + timedelta(seconds=expires_in)
            return value

    def _fetch(self, token: str) -> tuple[str, int]:
        def call() -> tuple[str, int]:
            params = {"access_token": token, "type": "jsapi"}
            response = request(
                self._http,
                "GET",
                self._url,
                provider=PROVIDER,
                timeout=self._timeout,
                params=params,
            )
            return parse_ticket_response(json_object(response, PROVIDER))

        return call_wechat(self._breaker, call)


def _locked_row(session: Session, appid: str) -> WeChatJsapiTicket:
    """The app's ticket row, made if missing, locked until the transaction ends (PostgreSQL
    FOR UPDATE; SQLite's write transaction already holds the database's write lock)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(WeChatJsapiTicket).values(appid=appid).on_conflict_do_nothing())
    statement = select(WeChatJsapiTicket).where(WeChatJsapiTicket.appid == appid).with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one()


class JsapiSigner:
    """Signs wx.config for a page URL with the shared ticket.

    The timestamp is the start of the current minute: WeChat only needs it to equal the
    signed one, and a page rendered in the same minute can then be served from the cache.
    """

    def __init__(
        self, tickets: DatabaseTicketProvider, *, appid: str, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._tickets = tickets
        self._appid = appid
        self._clock = clock

    def sign(self, url: str) -> JsapiConfig:
        timestamp = int(self._clock().timestamp()) // 60 * 60
        return build_jsapi_config(self._appid, self._tickets.ticket(), url, timestamp)
