"""The mini-program adapter's pure half: code2Session and getuserphonenumber, built and parsed."""

from __future__ import annotations

import pytest

from backend.notifications.subscribe_results import (
    SubscribeAnswer,
    SubscribeResultInvalid,
    parse_subscribe_result,
)
from backend.orders.wechat_miniprogram import (
    MiniProgramFailed,
    build_code2session_params,
    build_phone_number_body,
    parse_code2session,
    parse_phone_number,
)
from backend.orders.wechat_oauth import WeChatIdentity

APPID = "wx0123456789abcdef"


def test_the_login_call_carries_the_documented_parameters():
    assert build_code2session_params(APPID, "s3cret", "0a1b2c") == {
        "appid": APPID,
        "secret": "s3cret",
        "js_code": "0a1b2c",
        "grant_type": "authorization_code",
    }


def test_a_login_answer_gives_openid_and_unionid_and_drops_the_session_key():
    answer = {
        "openid": "oXyz_abc123",
        "session_key": "tiihtNczf5v6AKRyjwEUhQ==",
        "unionid": "oUnion_987",
    }
    identity = parse_code2session(APPID, answer)
    assert identity == WeChatIdentity(APPID, "oXyz_abc123", "oUnion_987")
    assert "tiihtNczf5v6AKRyjwEUhQ==" not in repr(identity)


def test_a_login_answer_without_unionid_has_none():
    identity = parse_code2session(APPID, {"openid": "oXyz_abc123", "session_key": "k"})
    assert identity.unionid is None


@pytest.mark.parametrize(
    ("errcode", "retryable"), [(40029, False), (45011, False), (40226, False), (-1, True)]
)
def test_login_refusals_keep_the_code_and_the_rid(errcode, retryable):
    payload = {"errcode": errcode, "errmsg": "invalid code, rid: 6523a1b2-0d3c"}
    with pytest.raises(MiniProgramFailed) as raised:
        parse_code2session(APPID, payload)
    assert raised.value.code == errcode
    assert raised.value.retryable is retryable
    assert "rid: 6523a1b2-0d3c" in raised.value.reason


@pytest.mark.parametrize(
    "payload", [{}, {"openid": ""}, {"openid": 7}, {"errcode": "x"}, {"errcode": 99999}]
)
def test_an_answer_without_an_openid_is_a_failure(payload):
    with pytest.raises(MiniProgramFailed):
        parse_code2session(APPID, payload)


def test_the_phone_body_names_the_code_and_the_user_it_was_made_for():
    assert build_phone_number_body("e319") == {"code": "e319"}
    assert build_phone_number_body("e319", "oXyz") == {"code": "e319", "openid": "oXyz"}


def test_the_phone_answer_gives_the_number_without_country_code():
    # The official example writes countryCode as a number.
    answer = {
        "errcode": 0,
        "errmsg": "ok",
        "phone_info": {
            "phoneNumber": "13800138000",
            "purePhoneNumber": "13800138000",
            "countryCode": 86,
            "watermark": {"timestamp": 1637744274, "appid": APPID},
        },
    }
    phone = parse_phone_number(answer)
    assert (phone.pure, phone.country_code) == ("13800138000", "86")


@pytest.mark.parametrize(
    "payload",
    [
        {"errcode": 40029, "errmsg": "invalid code hint: [x] rid: y"},
        {"errcode": 0, "errmsg": "ok"},
        {"errcode": 0, "phone_info": {"phoneNumber": "13800138000"}},
        {"errcode": 0, "phone_info": "13800138000"},
    ],
)
def test_a_phone_answer_without_a_pure_number_is_a_failure(payload):
    with pytest.raises(MiniProgramFailed):
        parse_phone_number(payload)


def test_a_subscribe_result_is_read_per_template_without_wechats_errmsg():
    result = {"T1": "accept", "T2": "reject", "T3": "ban", "T4": "filter", "errMsg": "ok"}
    assert parse_subscribe_result(result) == {
        "T1": SubscribeAnswer.ACCEPT,
        "T2": SubscribeAnswer.REJECT,
        "T3": SubscribeAnswer.BAN,
        "T4": SubscribeAnswer.FILTER,
    }


@pytest.mark.parametrize(
    "result",
    [
        None,
        [],
        {},
        {"errMsg": "ok"},
        {"T1": "cancel"},
        {"": "accept"},
        {"T" * 65: "accept"},
        {f"T{n}": "accept" for n in range(6)},
    ],
)
def test_anything_else_is_not_a_subscribe_result(result):
    with pytest.raises(SubscribeResultInvalid):
        parse_subscribe_result(result)
