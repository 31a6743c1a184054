"""The WeChat web OAuth adapter's pure parts: the authorize URL, the exchange, the state."""

from urllib.parse import parse_qs, urlsplit

import pytest

from backend.orders.wechat_oauth import (
    OAuthFailed,
    StateInvalid,
    StateSigner,
    WeChatIdentity,
    build_authorize_url,
    build_code_exchange_params,
    is_local_path,
    parse_code_exchange,
)

KEYS = ("old-key-0123456789abcdef", "new-key-0123456789abcdef")
APPID = "wx0123456789abcdef"
NOW = 1_800_000_000.0


def test_the_authorize_url_asks_for_a_silent_snsapi_base_code_and_ends_in_wechat_redirect():
    url = build_authorize_url(APPID, "https://shop.example/wechat/oauth/callback?next=%2Fo", "ab12")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "open.weixin.qq.com",
        "/connect/oauth2/authorize",
    )
    assert parts.fragment == "wechat_redirect"
    query = parse_qs(parts.query)
    assert query == {
        "appid": [APPID],
        "redirect_uri": ["https://shop.example/wechat/oauth/callback?next=%2Fo"],
        "response_type": ["code"],
        "scope": ["snsapi_base"],
        "state": ["ab12"],
    }
    assert list(query) == ["appid", "redirect_uri", "response_type", "scope", "state"]


def test_the_code_exchange_sends_appid_secret_code_and_the_authorization_code_grant():
    assert build_code_exchange_params(APPID, "s3cret", "CODE") == {
        "appid": APPID,
        "secret": "s3cret",
        "code": "CODE",
        "grant_type": "authorization_code",
    }


def test_an_exchange_answer_gives_the_openid_and_the_unionid_when_present():
    answer = {"access_token": "T", "expires_in": 7200, "refresh_token": "R", "scope": "snsapi_base"}
    assert parse_code_exchange(APPID, answer | {"openid": "oA1"}) == WeChatIdentity(APPID, "oA1")
    with_union = parse_code_exchange(APPID, answer | {"openid": "oA1", "unionid": "oU9"})
    assert with_union == WeChatIdentity(APPID, "oA1", "oU9")


@pytest.mark.parametrize(
    ("payload", "code", "retryable"),
    [
        ({"errcode": 40029, "errmsg": "invalid code, rid: 1"}, "40029", False),
        ({"errcode": 40163, "errmsg": "code been used, rid: 2"}, "40163", False),
        ({"errcode": -1, "errmsg": "system busy"}, "-1", True),
        ({"errcode": 41008, "errmsg": "missing code"}, "41008", False),
        ({"access_token": "T"}, None, False),
        ({"openid": "oA1", "is_snapshotuser": 1}, "is_snapshotuser", False),
    ],
)
def test_an_exchange_error_or_an_unusable_answer_raises_with_the_raw_code(payload, code, retryable):
    with pytest.raises(OAuthFailed) as raised:
        parse_code_exchange(APPID, payload)
    assert raised.value.code == code
    assert raised.value.retryable is retryable


def test_a_state_is_hex_within_wechats_128_characters_and_verifies_for_its_session_and_path():
    signer = StateSigner(KEYS)
    state = signer.sign("wx:1:2:1", "/orders/A1", now=NOW)
    assert len(state) <= 128 and all(c in "0123456789abcdef" for c in state)
    verified = signer.verify(state, "wx:1:2:1", "/orders/A1", now=NOW + 60)
    assert verified.nonce == state[:24]
    assert signer.sign("wx:1:2:1", "/orders/A1", now=NOW) != state  # a new nonce each time


@pytest.mark.parametrize(
    ("binding", "path", "later"),
    [
        ("wx:9:2:1", "/orders/A1", 60),  # another customer's session
        ("wx:1:2:2", "/orders/A1", 60),  # the same customer after the links were revoked
        ("wx:1:2:1", "/orders/B2", 60),  # another page
        ("wx:1:2:1", "/orders/A1", 11 * 60),  # too old
        ("wx:1:2:1", "/orders/A1", -60),  # from the future
    ],
)
def test_a_state_does_not_verify_for_another_session_path_or_time(binding, path, later):
    signer = StateSigner(KEYS)
    state = signer.sign("wx:1:2:1", "/orders/A1", now=NOW)
    with pytest.raises(StateInvalid):
        signer.verify(state, binding, path, now=NOW + later)


def test_a_forged_or_altered_state_does_not_verify():
    signer = StateSigner(KEYS)
    state = signer.sign("wx:1:2:1", "/orders/A1", now=NOW)
    flipped = state[:-1] + ("0" if state[-1] != "0" else "1")
    forged = StateSigner(("someone-elses-key-0123456789",)).sign("wx:1:2:1", "/orders/A1", now=NOW)
    for bad in (flipped, forged, "", "abc", state.upper(), state + "0"):
        with pytest.raises(StateInvalid):
            signer.verify(bad, "wx:1:2:1", "/orders/A1", now=NOW)


def test_a_state_signed_with_a_retired_key_still_verifies_while_the_key_is_listed():
    state = StateSigner(KEYS[:1]).sign("wx:1:2:1", "/orders/A1", now=NOW)
    assert StateSigner(KEYS).verify(state, "wx:1:2:1", "/orders/A1", now=NOW)


@pytest.mark.parametrize(
    ("target", "local"),
    [
        ("/orders/A1", True),
        ("/orders/A1?notice=address_changed", True),
        ("/", True),
        ("", False),
        ("orders", False),
        ("//evil.example/", False),
        ("/\\evil.example", False),
        ("https://evil.example/", False),
        ("javascript:alert(1)", False),
        ("/orders\n/x", False),
        ("/\tevil", False),
    ],
)
def test_only_a_path_on_this_site_is_a_return_target(target, local):
    assert is_local_path(target) is local
