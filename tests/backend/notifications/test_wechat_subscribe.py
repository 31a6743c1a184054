"""WeChat subscribe messages: body building, value limits, token and errcode parsing."""

from __future__ import annotations

import pytest

from backend.notifications.base import NotificationRejected, NotificationUnavailable
from backend.notifications.wechat_subscribe import (
    AccessTokenInvalid,
    build_stable_token_request,
    build_subscribe_message,
    fit_value,
    keyword_kind,
    parse_send_response,
    parse_token_response,
    shorten,
)


def test_the_body_has_the_documented_shape():
    body = build_subscribe_message(
        "oOPENID123",
        "TEMPLATE_ID",
        {"character_string1": "DD20240502001", "thing2": "顺丰速运", "date3": "2024-05-02"},
        page="pages/order/detail?id=42",
    )
    assert body == {
        "touser": "oOPENID123",
        "template_id": "TEMPLATE_ID",
        "page": "pages/order/detail?id=42",
        "data": {
            "character_string1": {"value": "DD20240502001"},
            "thing2": {"value": "顺丰速运"},
            "date3": {"value": "2024-05-02"},
        },
        "miniprogram_state": "formal",
        "lang": "zh_CN",
    }


def test_without_a_page_the_field_is_left_out():
    assert "page" not in build_subscribe_message("oOPENID123", "T", {"thing1": "x"})


def test_unknown_states_and_languages_are_programming_errors():
    with pytest.raises(ValueError):
        build_subscribe_message("o1", "T", {"thing1": "x"}, miniprogram_state="beta")
    with pytest.raises(ValueError):
        build_subscribe_message("o1", "T", {"thing1": "x"}, lang="fr_FR")


@pytest.mark.parametrize(
    ("keyword", "kind"),
    [("thing1", "thing"), ("character_string19", "character_string"), ("date", "date")],
)
def test_the_keyword_type_is_its_name_without_the_number(keyword, kind):
    assert keyword_kind(keyword) == kind


@pytest.mark.parametrize(
    ("keyword", "value", "expected"),
    [
        ("thing1", "浙江省杭州市西湖区文三路", "浙江省杭州市西湖区文三路"),
        (
            "thing1",
            "一二三四五六七八九十一二三四五六七八九十",
            "一二三四五六七八九十一二三四五六七八九十",
        ),
        (
            "thing1",
            "一二三四五六七八九十一二三四五六七八九十一",
            "一二三四五六七八九十一二三四五六七八九…",
        ),
        ("thing1", "abcdefghij klmnopqrstuvwxyz", "abcdefghij klmnopqr…"),
        ("thing1", "abcdefghijklmnopqr  stuvwxyz", "abcdefghijklmnopqr…"),  # no space before …
        ("name2", "欧阳一二三四五六七八九", "欧阳一二三四五六七八"),
        ("name2", "Alexandria Ocasio-Cortez", "Alexandria Ocasio-Co"),
        ("phrase3", "已送达请签收", "已送达请签"),
        (
            "date4",
            "2024年5月2日 15:01 ~ 2024年5月3日 18:00",
            "2024年5月2日 15:01 ~ 2024年5月3日 18:00",
        ),
        ("amount5", "¥1234.50元", "¥1234.50元"),
    ],
)
def test_free_text_is_shortened_to_its_limit(keyword, value, expected):
    assert fit_value(keyword, value) == expected


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("character_string1", "D" * 33),
        ("number2", "1" * 33),
        ("phone_number3", "+86-0571-8888888888"),
        ("car_number4", "浙A12345678"),
        ("symbol5", "!!!!!!"),
        ("thing6", ""),
        ("thing7", "   "),
    ],
)
def test_identifiers_that_do_not_fit_are_refused_not_cut(keyword, value):
    with pytest.raises(NotificationRejected):
        fit_value(keyword, value)


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("abcde\u0301f", 6, "abcd…"),  # é is e + combining acute: kept whole or not at all
        ("abcd👍🏽xyz", 6, "abcd…"),  # thumbs up + skin tone stays one
        ("ab👨\u200d👩\u200d👧xyz", 6, "ab…"),  # a family emoji is not cut to a man
    ],
)
def test_shortening_never_splits_what_renders_as_one_character(value, limit, expected):
    assert shorten(value, limit, ellipsis=True) == expected


def test_the_stable_token_request_does_not_force_a_refresh():
    assert build_stable_token_request("wxAPPID", "SECRET") == {
        "grant_type": "client_credential",
        "appid": "wxAPPID",
        "secret": "SECRET",
        "force_refresh": False,
    }


def test_a_token_is_kept_until_a_minute_before_it_expires():
    token = parse_token_response({"access_token": "ACCESS", "expires_in": 7200}, now=1000.0)
    assert token.value == "ACCESS"
    assert token.expires_at == 1000.0 + 7200 - 60


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"errcode": 40125, "errmsg": "invalid appsecret"}, NotificationRejected),
        ({"errcode": 40013, "errmsg": "invalid appid"}, NotificationRejected),
        ({"errcode": -1, "errmsg": "system error"}, NotificationUnavailable),
        ({"access_token": "A"}, NotificationUnavailable),
        ({"errcode": "x"}, NotificationRejected),
    ],
)
def test_token_refusals_are_classified(payload, error):
    with pytest.raises(error):
        parse_token_response(payload, now=0.0)


def test_an_accepted_message_becomes_a_send_result():
    result = parse_send_response(
        {"errcode": 0, "errmsg": "ok", "msgid": 2054002848606502913}, idempotency_key="k1"
    )
    assert (result.provider, result.message_id, result.idempotency_key) == (
        "wechat_subscribe",
        "2054002848606502913",
        "k1",
    )
    assert parse_send_response({"errcode": 0, "errmsg": "ok"}).message_id is None


@pytest.mark.parametrize(
    ("errcode", "error"),
    [
        (43101, NotificationRejected),  # user refused / one-time grant used up
        (40003, NotificationRejected),
        (40037, NotificationRejected),
        (47003, NotificationRejected),
        (41030, NotificationRejected),
        (99999, NotificationRejected),  # unknown: terminal, raw code kept
        (-1, NotificationUnavailable),
        (45009, NotificationUnavailable),
        (40001, AccessTokenInvalid),
        (42001, AccessTokenInvalid),
        (40014, AccessTokenInvalid),
    ],
)
def test_send_errcodes_are_classified(errcode, error):
    with pytest.raises(error) as raised:
        parse_send_response({"errcode": errcode, "errmsg": "msg"})
    assert type(raised.value) is error
    assert raised.value.code == str(errcode)


def test_an_invalid_token_is_retryable():
    assert issubclass(AccessTokenInvalid, NotificationUnavailable)
