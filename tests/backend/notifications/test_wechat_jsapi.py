"""The JS-SDK signature (WeChat's documented example) and the jsapi_ticket kept in the
database, fetched from the emulator over loopback HTTP."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest

from backend.clock import utcnow
from backend.notifications.base import NotificationUnavailable
from backend.notifications.models import WeChatJsapiTicket
from backend.notifications.wechat_jsapi import (
    DatabaseTicketProvider,
    JsapiSigner,
    build_jsapi_config,
    build_jsapi_signature,
    page_url_for_signature,
    parse_ticket_response,
)
from backend.notifications.wechat_tokens import DatabaseTokenProvider
from emulators.notifications import Fault

from .conftest import APP_SECRET, APPID

# The example on WeChat's JS-SDK page (docs/protocols.md, "WeChat JS-SDK / Signature").
DOC_TICKET = (
    "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
)


def test_the_signature_of_wechat_s_documented_example_is_reproduced():
    signature = build_jsapi_signature(
        DOC_TICKET, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com"
    )
    assert signature == "f4d90daf4b3bca3078ab155816175ba34c443a7b"


def test_the_signed_url_drops_the_fragment_and_keeps_the_query_unescaped():
    url = "https://shop.example/orders/DD1?notice=a b#top"
    assert page_url_for_signature(url) == "https://shop.example/orders/DD1?notice=a b"


def test_the_config_signs_its_own_nonce_and_timestamp_and_is_the_same_for_the_same_page():
    config = build_jsapi_config(APPID, DOC_TICKET, "https://shop.example/orders/DD1#x", 1700000040)
    expected = build_jsapi_signature(
        DOC_TICKET, config.nonce, 1700000040, "https://shop.example/orders/DD1"
    )
    assert config.signature == expected
    assert config.appid == APPID and len(config.nonce) == 16
    again = build_jsapi_config(APPID, DOC_TICKET, "https://shop.example/orders/DD1", 1700000040)
    assert again == config
    other = build_jsapi_config(APPID, DOC_TICKET, "https://shop.example/orders/DD2", 1700000040)
    assert other.nonce != config.nonce and other.signature != config.signature


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"errcode": -1, "errmsg": "system busy"}, NotificationUnavailable),
        ({"errcode": 0, "errmsg": "ok"}, NotificationUnavailable),  # no ticket in it
    ],
)
def test_a_ticket_answer_without_a_ticket_raises(payload, error):
    with pytest.raises(error):
        parse_ticket_response(payload)


def tickets(database, http, url, *, clock=utcnow) -> DatabaseTicketProvider:
    tokens = DatabaseTokenProvider(database, http, appid=APPID, secret=APP_SECRET, base_url=url)
    return DatabaseTicketProvider(database, http, tokens, appid=APPID, base_url=url, clock=clock)


def stored(database) -> WeChatJsapiTicket | None:
    with database.read() as session:
        return session.get(WeChatJsapiTicket, APPID)


def test_the_ticket_is_fetched_once_and_every_process_reads_it(database, emulator, emulator_url):
    with httpx.Client() as first_http, httpx.Client() as second_http:
        first = tickets(database, first_http, emulator_url).ticket()
        second = tickets(database, second_http, emulator_url).ticket()
    assert first == second
    assert emulator.ticket_requests == 1
    row = stored(database)
    assert row is not None and row.ticket == first
    assert row.expires_at - row.refreshed_at == timedelta(seconds=7200)


def test_a_ticket_close_to_expiry_is_fetched_again(database, emulator, emulator_url, http):
    tickets(database, http, emulator_url).ticket()
    later = tickets(database, http, emulator_url, clock=lambda: utcnow() + timedelta(hours=2))
    later.ticket()
    assert emulator.ticket_requests == 2


def test_threads_wanting_a_ticket_together_share_one_fetch(database, emulator, emulator_url):
    results: list[str] = []
    errors: list[BaseException] = []

    def want() -> None:
        try:
            with httpx.Client() as http:
                results.append(tickets(database, http, emulator_url).ticket())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=want) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(results) == 6 and len(set(results)) == 1
    assert emulator.ticket_requests == 1


def test_a_refused_access_token_is_renewed_once_and_the_ticket_still_comes(
    database, emulator, emulator_url, http
):
    provider = tickets(database, http, emulator_url)
    with httpx.Client() as other:
        DatabaseTokenProvider(
            database, other, appid=APPID, secret=APP_SECRET, base_url=emulator_url
        ).token()
    emulator.expire_tokens()  # WeChat has retired the stored token; the row still holds it
    assert provider.ticket()
    assert emulator.ticket_requests == 1
    assert emulator.tokens_issued == 2


def test_wechat_busy_leaves_no_ticket_stored(database, emulator, emulator_url, http):
    provider = tickets(database, http, emulator_url)
    # The token is stored first, so the one fault meets the ticket call.
    DatabaseTokenProvider(
        database, http, appid=APPID, secret=APP_SECRET, base_url=emulator_url
    ).token()
    emulator.set_fault("wechat", Fault(code="-1", times=1))
    with pytest.raises(NotificationUnavailable):
        provider.ticket()
    row = stored(database)
    assert row is None or row.ticket is None
    assert provider.ticket()  # the next page view gets one


def test_the_signer_signs_at_the_start_of_the_minute(database, emulator, emulator_url, http):
    now = utcnow().replace(second=37)
    signer = JsapiSigner(tickets(database, http, emulator_url), appid=APPID, clock=lambda: now)
    config = signer.sign("https://shop.example/orders/DD1")
    assert config.timestamp == int(now.replace(second=0, microsecond=0).timestamp())
    ticket = stored(database).ticket
    assert config.signature == build_jsapi_signature(
        ticket, config.nonce, config.timestamp, "https://shop.example/orders/DD1"
    )
