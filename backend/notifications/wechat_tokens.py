"""The WeChat access token kept in the database: one per app, one refresher at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.breaker import Breaker
from backend.clock import utcnow
from backend.db import Database
from backend.notifications.base import json_object, request
from backend.notifications.models import WeChatAccessToken
from backend.notifications.wechat_subscribe import (
    API_BASE_URL,
    PROVIDER,
    STABLE_TOKEN_PATH,
    WeChatBreaker,
    build_stable_token_request,
    call_wechat,
    parse_token_response,
)

# The token call runs while the app's row is locked (see DatabaseTokenProvider), so it
# gets a shorter deadline than a send: a hung WeChat holds the other refreshers (and,
# on SQLite, every writer) for at most this long.
TOKEN_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
# WeChat renews the stable token 5 minutes early and keeps the old one valid meanwhile
# (docs/protocols.md, "WeChat subscribe messages / Stable access token"): a minute's
# margin never hands out a token about to die in flight, and stays inside that window.
DEFAULT_MARGIN = timedelta(seconds=60)


def usable_token(row: WeChatAccessToken | None, now: datetime, margin: timedelta) -> str | None:
    """The stored token if it is still good for `margin`, else None (missing, stale, expiring)."""
    if row is None or row.token is None or row.expires_at is None:
        return None
    return row.token if row.expires_at - margin > now else None


class DatabaseTokenProvider:
    """TokenProvider over the `wechat_access_tokens` row, shared by every process.

    Readers only read. A process that finds the token missing or expiring locks the
    app's row, looks again (another process may have refreshed it while it waited), and
    only then calls stable_token; the others wait on the lock and read what it stored.
    That lock is held during the HTTP call on purpose: one refresher at a time is the
    point (docs/protocols.md, "WeChat subscribe messages / Shared access token"), the
    call has TOKEN_TIMEOUT, and it happens about once every two hours. On SQLite the lock
    is the database's write lock, so other writers wait for that call too: acceptable
    for the single-machine setup SQLite serves, where a refresh takes milliseconds.
    """

    def __init__(
        self,
        database: Database,
        http: httpx.Client,
        *,
        appid: str,
        secret: str,
        base_url: str = API_BASE_URL,
        timeout: httpx.Timeout = TOKEN_TIMEOUT,
        clock: Callable[[], datetime] = utcnow,
        margin: timedelta = DEFAULT_MARGIN,
        breaker: Breaker | None = None,
    ) -> None:
        self._database = database
        self._http = http
        self._appid = appid
        self._secret = secret
        self._url = base_url.rstrip("/") + STABLE_TOKEN_PATH
        self._timeout = timeout
        self._clock = clock
        self._margin = margin
        self._breaker = breaker or WeChatBreaker()

    def token(self) -> str:
        # One primary-key read per send, no copy kept in the process: a copy would outlive
        # an invalidate() or refresh made by another process and be sent until it failed.
        with self._database.read() as session:
            stored = usable_token(session.get(WeChatAccessToken, self._appid), *self._now())
        return stored or self._refresh()

    def invalidate(self, token: str) -> None:
        """Mark `token` stale, unless another process has already stored a newer one."""
        with self._database.write() as session:
            session.execute(
                update(WeChatAccessToken)
                .where(WeChatAccessToken.appid == self._appid, WeChatAccessToken.token == token)
                .values(expires_at=self._clock())
            )

    def _now(self) -> tuple[datetime, timedelta]:
        return self._clock(), self._margin

    def _refresh(self) -> str:
        with self._database.write() as session:
            row = _locked_row(session, self._appid)
            stored = usable_token(row, *self._now())
            if stored is not None:
                return stored  # refreshed by another process while we waited for the lock
            value, expires_in = self._fetch()
            now = self._clock()
            row.token, row.refreshed_at = value, now
            row.expires_at = now + timedelta(seconds=expires_in)
            return value

    def _fetch(self) -> tuple[str, int]:
        body = build_stable_token_request(self._appid, self._secret)

        def call() -> tuple[str, int]:
            response = request(
                self._http, "POST", self._url, provider=PROVIDER, timeout=self._timeout, json=body
            )
            # now=0 and no margin: what comes back is WeChat's own expires_in, stored as is.
            fetched = parse_token_response(json_object(response, PROVIDER), now=0.0, margin=0.0)
            return fetched.value, int(fetched.expires_at)

        return call_wechat(self._breaker, call)


def _locked_row(session: Session, appid: str) -> WeChatAccessToken:
    """The app's row, created if missing, locked until the transaction ends.

    PostgreSQL: the insert waits for a concurrent insert of the same appid to finish, and
    FOR UPDATE then waits for whoever holds the row. SQLite: the write transaction began
    with BEGIN IMMEDIATE (backend/db.py), so it already holds the database's write lock.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(WeChatAccessToken).values(appid=appid).on_conflict_do_nothing())
    statement = select(WeChatAccessToken).where(WeChatAccessToken.appid == appid).with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one()
