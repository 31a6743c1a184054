"""The OAuth client against the loopback WeChat emulator: one-time codes and WeChat's errcodes."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from backend.orders.wechat_oauth import OAuthFailed, WeChatIdentity, WeChatOAuthClient
from emulators.notifications import DEMO_WECHAT_APPS, NotificationEmulator
from emulators.serving import serve_in_thread
from emulators.wechat_oauth import CODE_LIFETIME

APPID, SECRET = next(iter(DEMO_WECHAT_APPS.items()))
CALLBACK = "https://shop.example/wechat/oauth/callback?next=%2Forders"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wechat(clock) -> Iterator[tuple[NotificationEmulator, str]]:
    emulator = NotificationEmulator(clock=clock)
    with serve_in_thread(emulator.app) as url:
        yield emulator, url


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def client_for(http, url: str, secret: str = SECRET) -> WeChatOAuthClient:
    return WeChatOAuthClient(
        http, appid=APPID, secret=secret, authorize_base_url=url, api_base_url=url
    )


def authorize(http, oauth: WeChatOAuthClient, state: str = "s1") -> dict[str, list[str]]:
    answer = http.get(oauth.authorize_url(CALLBACK, state), follow_redirects=False)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK.split("?")[0]
    return parse_qs(location.query)


def test_a_code_from_the_authorize_page_exchanges_once_for_the_openid(http, wechat):
    emulator, url = wechat
    oauth = client_for(http, url)
    back = authorize(http, oauth)
    assert back["state"] == ["s1"] and back["next"] == ["/orders"]
    identity = oauth.exchange_code(back["code"][0])
    assert identity == WeChatIdentity(APPID, emulator.oauth.user.openid, None)
    with pytest.raises(OAuthFailed) as again:
        oauth.exchange_code(back["code"][0])
    assert again.value.code == "40163"


def test_a_refusing_user_comes_back_with_the_state_and_no_code(http, wechat):
    emulator, url = wechat
    emulator.oauth.user.refuses = True
    assert authorize(http, client_for(http, url)) == {"next": ["/orders"], "state": ["s1"]}


def test_a_redirect_uri_outside_the_authorized_domain_gets_wechats_error_page(http, wechat):
    emulator, url = wechat
    emulator.oauth.authorized_host = "portal.example"
    answer = http.get(client_for(http, url).authorize_url(CALLBACK, "s1"), follow_redirects=False)
    assert answer.status_code == 400 and "10003" in answer.text
    emulator.oauth.authorized_host = "shop.example"
    assert "code" in authorize(http, client_for(http, url))


def test_an_unknown_or_expired_code_is_40029_and_a_wrong_secret_40125(http, wechat, clock):
    _, url = wechat
    oauth = client_for(http, url)
    with pytest.raises(OAuthFailed) as unknown:
        oauth.exchange_code("no-such-code")
    assert unknown.value.code == "40029"
    code = authorize(http, oauth)["code"][0]
    with pytest.raises(OAuthFailed) as secret:
        client_for(http, url, secret="wrong").exchange_code(code)
    assert secret.value.code == "40125"
    clock.now += CODE_LIFETIME + 1
    with pytest.raises(OAuthFailed) as expired:
        oauth.exchange_code(code)
    assert expired.value.code == "40029"


def test_an_unreachable_wechat_is_a_retryable_failure(http):
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        oauth = client_for(http, f"http://127.0.0.1:{bound.getsockname()[1]}")
        with pytest.raises(OAuthFailed) as failed:
            oauth.exchange_code("c")
    assert failed.value.retryable
