"""The access token kept in the database, against the emulator over loopback HTTP."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.breaker import BreakerState
from backend.clock import utcnow
from backend.notifications.base import NotificationRejected, NotificationUnavailable
from backend.notifications.models import WeChatAccessToken
from backend.notifications.wechat_subscribe import WeChatBreaker, WeChatClient
from backend.notifications.wechat_tokens import DatabaseTokenProvider, usable_token
from emulators.notifications import Fault

from .conftest import APP_SECRET, APPID, OPENID, TEMPLATE_ID

DATA = {"character_string1": "DD20240502001", "phrase3": "已发货"}


def provider(database, http, url, *, secret=APP_SECRET, clock=utcnow) -> DatabaseTokenProvider:
    return DatabaseTokenProvider(
        database, http, appid=APPID, secret=secret, base_url=url, clock=clock
    )


def stored(database) -> WeChatAccessToken | None:
    with database.read() as session:
        return session.get(WeChatAccessToken, APPID)


NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("token", "expires_at", "usable"),
    [
        ("T", NOW + 2 * MINUTE, True),
        ("T", NOW + MINUTE, False),  # inside the margin: about to die in flight
        ("T", NOW - MINUTE, False),
        (None, NOW + 2 * MINUTE, False),  # the row exists, its first token does not
        ("T", None, False),
    ],
)
def test_a_stored_token_is_used_only_while_it_outlives_the_margin(token, expires_at, usable):
    row = WeChatAccessToken(appid=APPID, token=token, expires_at=expires_at)
    assert usable_token(row, NOW, MINUTE) == ("T" if usable else None)


def test_no_row_means_no_token():
    assert usable_token(None, NOW, MINUTE) is None


def test_the_token_is_fetched_once_and_every_process_reads_it(database, emulator, emulator_url):
    with httpx.Client() as first_http, httpx.Client() as second_http:
        first = provider(database, first_http, emulator_url).token()
        # A second provider stands for another process: it has nothing cached of its own.
        second = provider(database, second_http, emulator_url).token()
    assert first == second
    assert emulator.token_requests == 1
    row = stored(database)
    assert row is not None and row.token == first
    assert row.expires_at is not None and row.refreshed_at is not None
    assert row.expires_at - row.refreshed_at == timedelta(seconds=7200)


def test_a_token_close_to_expiry_is_refreshed(database, emulator, emulator_url, http):
    provider(database, http, emulator_url).token()
    later = provider(database, http, emulator_url, clock=lambda: utcnow() + timedelta(hours=2))
    # The emulator still holds the token live, so normal mode hands the same one back.
    assert later.token() == stored(database).token
    assert emulator.token_requests == 2


def test_invalidating_the_stored_token_makes_the_next_caller_refresh(
    database, emulator, emulator_url, http
):
    tokens = provider(database, http, emulator_url)
    old = tokens.token()
    emulator.expire_tokens()
    tokens.invalidate(old)
    new = tokens.token()
    assert new != old and stored(database).token == new
    assert emulator.token_requests == 2


def test_invalidating_a_token_already_replaced_keeps_the_new_one(
    database, emulator, emulator_url, http
):
    tokens = provider(database, http, emulator_url)
    old = tokens.token()
    emulator.expire_tokens()
    tokens.invalidate(old)
    new = tokens.token()
    # A slow process that also saw `old` refused reports it late: the new token stays.
    tokens.invalidate(old)
    assert tokens.token() == new
    assert stored(database).expires_at > utcnow()
    assert emulator.token_requests == 2


def test_a_refused_token_request_stores_nothing(database, emulator, emulator_url, http):
    with pytest.raises(NotificationRejected, match="40125"):
        provider(database, http, emulator_url, secret="wrong").token()
    assert stored(database) is None


def test_wechat_down_while_refreshing_leaves_the_old_row_alone(
    database, emulator, emulator_url, http
):
    tokens = provider(database, http, emulator_url)
    old = tokens.token()
    tokens.invalidate(old)
    before = stored(database)
    emulator.set_fault("wechat", Fault(status=503))
    with pytest.raises(Exception, match="503"):
        tokens.token()
    after = stored(database)
    assert (after.token, after.expires_at) == (before.token, before.expires_at)


def test_an_expired_token_is_refreshed_once_and_the_send_retried_once(
    database, emulator, emulator_url
):
    calls: list[str] = []
    hooks = {"request": [lambda request: calls.append(request.url.path)]}
    emulator.grant(OPENID, TEMPLATE_ID, count=2)
    with httpx.Client(event_hooks=hooks) as http:
        tokens = provider(database, http, emulator_url)
        client = WeChatClient(http, tokens, base_url=emulator_url)
        client.send(OPENID, TEMPLATE_ID, None, DATA, "k1")
        old = stored(database).token
        http.post(f"{emulator_url}/_emulator/wechat/expire-tokens").raise_for_status()
        calls.clear()
        client.send(OPENID, TEMPLATE_ID, None, DATA, "k2")
    # 40001 on the old token, one refresh, one retry that goes through.
    assert calls == [
        "/cgi-bin/message/subscribe/send",
        "/cgi-bin/stable_token",
        "/cgi-bin/message/subscribe/send",
    ]
    assert len(emulator.sent("wechat")) == 2
    assert stored(database).token != old
    assert emulator.tokens_issued == 2


def test_threads_that_need_a_token_at_once_share_one_refresh(database, emulator, emulator_url):
    # Slow answers widen the window in which a second refresher would slip in.
    emulator.set_fault("wechat", Fault(delay=0.3))
    start = threading.Barrier(6)
    tokens: list[str] = []

    def fetch() -> None:
        with httpx.Client() as http:
            mine = provider(database, http, emulator_url)  # each its own, like processes
            start.wait()
            tokens.append(mine.token())

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(tokens) == 6 and len(set(tokens)) == 1
    assert emulator.token_requests == 1


def test_wechat_failing_again_and_again_opens_the_circuit_and_calls_stop(
    database, emulator, emulator_url
):
    calls: list[str] = []
    hooks = {"request": [lambda request: calls.append(request.url.path)]}
    now = [0.0]
    breaker = WeChatBreaker(threshold=3, cool_down=30.0, clock=lambda: now[0])
    emulator.grant(OPENID, TEMPLATE_ID)
    emulator.set_fault("wechat", Fault(status=503))
    with httpx.Client(event_hooks=hooks) as http:
        tokens = DatabaseTokenProvider(
            database, http, appid=APPID, secret=APP_SECRET, base_url=emulator_url, breaker=breaker
        )
        client = WeChatClient(http, tokens, base_url=emulator_url, breaker=breaker)
        for _ in range(3):
            with pytest.raises(NotificationUnavailable, match="503"):
                client.send(OPENID, TEMPLATE_ID, None, DATA, "k1")
        assert breaker.state == BreakerState.OPEN
        with pytest.raises(NotificationUnavailable, match="circuit open") as raised:
            client.send(OPENID, TEMPLATE_ID, None, DATA, "k1")
        assert not raised.value.maybe_sent  # retried by the outbox, never sent twice
        assert len(calls) == 3
        emulator.clear_faults()
        now[0] += 30.0  # cooled down: one trial goes out, succeeds, and closes the circuit
        client.send(OPENID, TEMPLATE_ID, None, DATA, "k1")
    assert breaker.state == BreakerState.CLOSED
    assert len(emulator.sent("wechat")) == 1


def test_a_refused_token_proves_wechat_is_up(database, emulator, emulator_url, http):
    breaker = WeChatBreaker(threshold=1)
    emulator.grant(OPENID, TEMPLATE_ID)
    tokens = DatabaseTokenProvider(
        database, http, appid=APPID, secret=APP_SECRET, base_url=emulator_url, breaker=breaker
    )
    client = WeChatClient(http, tokens, base_url=emulator_url, breaker=breaker)
    tokens.token()
    emulator.expire_tokens()
    client.send(OPENID, TEMPLATE_ID, None, DATA, "k1")
    assert breaker.state == BreakerState.CLOSED


@pytest.mark.parametrize("errcode", ["40001", "42001"])
def test_either_token_refusal_means_one_refresh_and_one_retry(
    database, emulator, emulator_url, errcode
):
    calls: list[str] = []
    hooks = {"request": [lambda request: calls.append(request.url.path)]}
    emulator.grant(OPENID, TEMPLATE_ID)
    with httpx.Client(event_hooks=hooks) as http:
        tokens = provider(database, http, emulator_url)
        tokens.token()
        emulator.set_fault("wechat", Fault(code=errcode, times=1))
        calls.clear()
        WeChatClient(http, tokens, base_url=emulator_url).send(
            OPENID, TEMPLATE_ID, None, DATA, "k1"
        )
    assert calls == [
        "/cgi-bin/message/subscribe/send",
        "/cgi-bin/stable_token",
        "/cgi-bin/message/subscribe/send",
    ]
    assert len(emulator.sent("wechat")) == 1
