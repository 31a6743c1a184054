"""Template data: our values fitted to each keyword's type, as WeChat's limits want them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.notifications.base import NotificationRejected
from backend.notifications.models import NotificationEvent
from backend.notifications.wechat_data import (
    DEFAULT_LAYOUT,
    build_template_data,
    message_values,
    parse_layout,
)

AT = datetime(2026, 12, 1, 2, 5, tzinfo=UTC)  # 10:05 in Shanghai


def test_a_delivered_parcel_fills_the_default_layout():
    values = message_values(
        NotificationEvent.DELIVERED,
        {
            "order": "DD20261201001",
            "carrier": "中通快递",
            "waybill": "ZT7500000000123",
            "code": "x",
        },
        AT,
    )
    assert build_template_data(DEFAULT_LAYOUT, values) == {
        "character_string1": "DD20261201001",
        "phrase2": "已签收",
        "thing3": "中通快递 ZT7500000000123",
        "time4": "2026年12月01日 10:05",
    }


def test_a_long_thing_is_shortened_with_an_ellipsis_and_loses_its_emoji():
    data = build_template_data(
        {"thing3": "detail"}, {"detail": "🚚快件已到达杭州转运中心，正在发往宁波市鄞州区营业部"}
    )
    assert data["thing3"] == "快件已到达杭州转运中心，正在发往宁波市…"
    assert len(data["thing3"]) == 20


def test_a_phrase_keeps_only_chinese_and_a_character_string_no_chinese():
    data = build_template_data(
        {"phrase2": "status", "character_string1": "order"},
        {"status": "派送中!", "order": "订单DD001"},
    )
    assert data == {"phrase2": "派送中", "character_string1": "DD001"}


def test_an_order_number_too_long_for_its_keyword_is_refused_not_cut():
    with pytest.raises(NotificationRejected):
        build_template_data({"character_string1": "order"}, {"order": "D" * 33})


def test_a_missing_value_leaves_its_keyword_out():
    assert build_template_data({"thing9": "nothing"}, {}) == {}


def test_every_event_has_a_status_phrase_of_at_most_five_chinese_characters():
    for event in NotificationEvent:
        phrase = message_values(event, {}, AT)["status"]
        assert 0 < len(phrase) <= 5 and all("\u4e00" <= c <= "\u9fff" for c in phrase)


def test_the_layout_setting_replaces_the_default_and_empty_keeps_it():
    assert parse_layout("") == DEFAULT_LAYOUT
    assert parse_layout("thing1=detail, time2=time") == {"thing1": "detail", "time2": "time"}
