"""Inside WeChat, a customer page links the customer's openid through a silent OAuth round trip.

The portal runs in a TestClient; WeChat is the loopback emulator on a free port, reached
over real HTTP both by the "browser" (the authorize redirect) and by the portal (the code
exchange). Every outcome is read back from the database.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.orders.models import Customer, CustomerWechatId, Order, WechatOAuthNonce
from backend.orders.wechat_oauth import StateSigner
from emulators.notifications import DEMO_WECHAT_APPS, NotificationEmulator
from emulators.serving import serve_in_thread
from portal.app import create_app
from portal.sessions import CUSTOMER_COOKIE
from portal.wechat_oauth import TRIED_COOKIE
from tests.conftest import TEST_KEYS
from tests.factories import make_order
from tests.portal.helpers import open_short_link

APPID, SECRET = next(iter(DEMO_WECHAT_APPS.items()))
WECHAT = {
    "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI "
    "Language/zh_CN"
}
SAFARI = {"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"}
MINIPROGRAM = {"user-agent": WECHAT["user-agent"] + " miniProgram/wx0123456789abcdef"}


@pytest.fixture
def wechat() -> Iterator[tuple[NotificationEmulator, str]]:
    emulator = NotificationEmulator()
    with serve_in_thread(emulator.app) as url:
        yield emulator, url


def configured(settings, authorize_url: str, api_url: str):
    return dataclasses.replace(
        settings,
        wechat_appid=APPID,
        wechat_app_secret=SECRET,
        wechat_oauth_authorize_url=authorize_url,
        wechat_oauth_api_url=api_url,
    )


@pytest.fixture
def portal(settings, database, wechat) -> Iterator[TestClient]:
    _, url = wechat
    with TestClient(create_app(configured(settings, url, url), database)) as client:
        yield client


@pytest.fixture
def order(database):
    return make_order(database)


def enter(client: TestClient, database, order) -> str:
    """Opens the customer's SMS link; returns the tracking page path it leads to."""
    response = open_short_link(client, database, order.id)
    assert response.status_code == 303
    return response.headers["location"]


def at_wechat(response: httpx.Response | object) -> str:
    """What the browser does at WeChat: follow the authorize URL, come back with its answer."""
    location = response.headers["location"]  # type: ignore[attr-defined]
    answer = httpx.get(location, follow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert (back.scheme, back.netloc) == ("http", "testserver")
    return f"{back.path}?{back.query}"


def linked(database, customer_id: int) -> list[tuple[str, str, str | None]]:
    with database.read() as session:
        rows = session.execute(
            select(CustomerWechatId.appid, CustomerWechatId.openid, CustomerWechatId.unionid).where(
                CustomerWechatId.customer_id == customer_id
            )
        ).all()
    return [tuple(row) for row in rows]


def customer_openid(database, customer_id: int) -> str | None:
    with database.read() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        return customer.wechat_openid


def link_events(database) -> int:
    with database.read() as session:
        statement = select(func.count()).where(AuditEvent.action == "customer.wechat_linked")
        return session.execute(statement).scalar_one()


def test_a_page_opened_in_wechat_links_the_openid_and_lands_on_the_same_page(
    portal, database, wechat, order
):
    emulator, _ = wechat
    emulator.oauth.user.unionid = "oUnion0000000000000000000001"
    page = enter(portal, database, order)

    to_wechat = portal.get(page, headers=WECHAT, follow_redirects=False)
    assert to_wechat.status_code == 303
    location = urlsplit(to_wechat.headers["location"])
    assert location.path == "/connect/oauth2/authorize"
    assert location.fragment == "wechat_redirect"
    assert "<html" not in to_wechat.text.lower()  # no page flashes before WeChat

    callback = at_wechat(to_wechat)
    asked = emulator.oauth.authorize_requests[-1]
    assert asked["scope"] == "snsapi_base" and asked["appid"] == APPID
    assert parse_qs(urlsplit(asked["redirect_uri"]).query) == {"next": [page]}
    back = portal.get(callback, headers=WECHAT, follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"] == page

    again = portal.get(page, headers=WECHAT, follow_redirects=False)
    assert again.status_code == 200
    assert len(emulator.oauth.authorize_requests) == 1
    customer_id = order.customer_id
    assert linked(database, customer_id) == [
        (APPID, emulator.oauth.user.openid, "oUnion0000000000000000000001")
    ]
    assert customer_openid(database, customer_id) == emulator.oauth.user.openid
    assert link_events(database) == 1


def test_once_linked_a_new_browser_in_wechat_is_not_sent_to_wechat_again(
    portal, database, wechat, order, settings
):
    emulator, _ = wechat
    page = enter(portal, database, order)
    portal.get(at_wechat(portal.get(page, headers=WECHAT, follow_redirects=False)))
    portal.cookies.delete(TRIED_COOKIE)  # another phone, or the cookie has run out

    assert portal.get(page, headers=WECHAT, follow_redirects=False).status_code == 200
    assert portal.get("/orders", headers=WECHAT, follow_redirects=False).status_code == 200
    assert len(emulator.oauth.authorize_requests) == 1


@pytest.mark.parametrize(
    "headers", [SAFARI, MINIPROGRAM, {}], ids=["safari", "miniprogram", "none"]
)
def test_outside_wechats_browser_nothing_of_this_happens(portal, database, wechat, order, headers):
    emulator, _ = wechat
    page = enter(portal, database, order)
    assert portal.get(page, headers=headers, follow_redirects=False).status_code == 200
    assert portal.get("/orders", headers=headers, follow_redirects=False).status_code == 200
    assert emulator.oauth.authorize_requests == []
    assert TRIED_COOKIE not in portal.cookies


def test_without_a_wechat_appid_a_page_in_wechat_just_opens(client, database, order):
    page = enter(client, database, order)
    assert client.get(page, headers=WECHAT, follow_redirects=False).status_code == 200


def test_an_htmx_poll_in_wechat_is_never_sent_to_wechat(portal, database, wechat, order):
    emulator, _ = wechat
    page = enter(portal, database, order)
    headers = WECHAT | {"HX-Request": "true"}
    assert portal.get(f"{page}/timeline", headers=headers).status_code == 200
    assert emulator.oauth.authorize_requests == []


def assert_fell_back(portal, database, emulator, order, response, page) -> None:
    """Back on the page, nothing linked, and the next views do not go to WeChat again."""
    assert response.status_code == 303
    assert response.headers["location"] == page
    tries = len(emulator.oauth.authorize_requests)
    for _ in range(2):
        assert portal.get(page, headers=WECHAT, follow_redirects=False).status_code == 200
    assert len(emulator.oauth.authorize_requests) == tries
    assert linked(database, order.customer_id) == []
    assert customer_openid(database, order.customer_id) is None
    assert link_events(database) == 0


def test_a_refusal_at_wechat_falls_back_to_the_page_without_a_retry_loop(
    portal, database, wechat, order
):
    emulator, _ = wechat
    emulator.oauth.user.refuses = True
    page = enter(portal, database, order)
    callback = at_wechat(portal.get(page, headers=WECHAT, follow_redirects=False))
    assert "code" not in parse_qs(urlsplit(callback).query)
    response = portal.get(callback, headers=WECHAT, follow_redirects=False)
    assert_fell_back(portal, database, emulator, order, response, page)
    assert emulator.oauth.exchanges == 0


@pytest.mark.parametrize("errcode", [40029, 40163, -1])
def test_an_exchange_error_falls_back_to_the_page_without_a_retry_loop(
    portal, database, wechat, order, errcode
):
    emulator, _ = wechat
    emulator.oauth.exchange_errcode = errcode
    page = enter(portal, database, order)
    callback = at_wechat(portal.get(page, headers=WECHAT, follow_redirects=False))
    response = portal.get(callback, headers=WECHAT, follow_redirects=False)
    assert_fell_back(portal, database, emulator, order, response, page)
    assert emulator.oauth.exchanges == 1


def test_wechat_being_unreachable_falls_back_to_the_page(settings, database, wechat, order):
    emulator, url = wechat
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{bound.getsockname()[1]}"
        with TestClient(create_app(configured(settings, url, dead), database)) as portal:
            page = enter(portal, database, order)
            callback = at_wechat(portal.get(page, headers=WECHAT, follow_redirects=False))
            response = portal.get(callback, headers=WECHAT, follow_redirects=False)
            assert_fell_back(portal, database, emulator, order, response, page)


def test_a_snapshot_user_is_never_linked(portal, database, wechat, order):
    emulator, _ = wechat
    emulator.oauth.user.snapshot = True
    page = enter(portal, database, order)
    callback = at_wechat(portal.get(page, headers=WECHAT, follow_redirects=False))
    response = portal.get(callback, headers=WECHAT, follow_redirects=False)
    assert_fell_back(portal, database, emulator, order, response, page)


def with_param(callback: str, **changes: str) -> str:
    parts = urlsplit(callback)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return f"{parts.path}?{urlencode(query)}"


def test_a_forged_state_is_refused_before_wechat_is_asked(portal, database, wechat, order):
    emulator, _ = wechat
    page = enter(portal, database, order)
    callback = at_wechat(portal.get(page, headers=WECHAT, follow_redirects=False))
    state = parse_qs(urlsplit(callback).query)["state"][0]
    forged = StateSigner(("an-attackers-key-0123456789",)).sign("x", page)
    for bad in (state[:-1] + ("1" if state[-1] == "0" else "0"), forged, "", "not-hex"):
        response = portal.get(with_param(callback, state=bad), follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == page
    assert_fell_back(portal, database, emulator, order, response, page)
    assert emulator.oauth.exchanges == 0


def test_a_replayed_state_is_refused_and_changes_nothing(portal, database, wechat, order):
    emulator, _ = wechat
    page = enter(portal, database, order)
    to_wechat = portal.get(page, headers=WECHAT, follow_redirects=False)
    callback = at_wechat(to_wechat)
    assert portal.get(callback, follow_redirects=False).headers["location"] == page
    first_openid = emulator.oauth.user.openid
    emulator.oauth.user.openid = "oSomeoneElse00000000000000002"

    # The same state again: with its spent code, then with a fresh code of another user.
    fresh = at_wechat(to_wechat)
    for replay in (callback, fresh):
        response = portal.get(replay, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == page
    assert emulator.oauth.exchanges == 1
    assert linked(database, order.customer_id) == [(APPID, first_openid, None)]
    assert link_events(database) == 1
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(WechatOAuthNonce)).scalar() == 1


def test_a_state_from_another_customers_session_is_refused(portal, database, wechat, order):
    emulator, _ = wechat
    page = enter(portal, database, order)
    callback = at_wechat(portal.get(page, headers=WECHAT, follow_redirects=False))
    other = make_order(database, phone="13900139000", name="李四")
    with TestClient(portal.app) as victim:
        enter(victim, database, other)
        response = victim.get(callback, follow_redirects=False)
    assert response.status_code == 303
    assert linked(database, other.customer_id) == [] and emulator.oauth.exchanges == 0


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/orders", "/\\evil.example", "evil.example"],
)
def test_a_callback_never_redirects_off_the_site_even_with_a_state_signed_for_it(
    portal, database, wechat, order, target
):
    emulator, _ = wechat
    page = enter(portal, database, order)
    callback = at_wechat(portal.get(page, headers=WECHAT, follow_redirects=False))
    with database.read() as session:
        row = session.get(Order, order.id)
        assert row is not None
        binding = f"{APPID}:{order.customer_id}:{order.id}:{row.link_version}"
    state = StateSigner(TEST_KEYS).sign(binding, target)
    response = portal.get(with_param(callback, next=target, state=state), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/orders"
    assert emulator.oauth.exchanges == 0 and linked(database, order.customer_id) == []
    assert CUSTOMER_COOKIE in portal.cookies
