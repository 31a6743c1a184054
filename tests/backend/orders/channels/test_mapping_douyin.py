"""Douyin shop_order_detail payloads map to exact canonical orders; money is already fen."""

from dataclasses import replace

import pytest

from backend.orders.channels.canonical import (
    CanonicalAddress,
    CanonicalLine,
    CanonicalOrder,
    PayloadInvalid,
    supersedes,
)
from backend.orders.channels.mapping import map_order
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import PaymentMethod, SalesChannel
from tests.backend.orders.channels.recorded import load_payload, utc

NORMAL = CanonicalOrder(
    channel=SalesChannel.DOUYIN,
    channel_order_no="6920000000000000001",
    status=OrderStatus.PAID,
    raw_status="105",
    buyer_name="孙*",
    buyer_phone="138****5678",
    address=CanonicalAddress(
        recipient_name="孙*",
        phone="138****5678",
        province="四川省",
        city="成都市",
        district="武侯区",
        street="玉林街道玉林北路**号",
    ),
    lines=(CanonicalLine("HG-01", "火锅底料", 2, 4400, "6920000000000000002", 8800),),
    total_fen=8800,
    placed_at=utc(2024, 5, 1, 2, 0),
    paid_at=utc(2024, 5, 1, 2, 0, 30),
    updated_at=utc(2024, 5, 1, 2, 0, 31),
    payment_method=PaymentMethod.PLATFORM,
    risk_hints=("recipient_masked",),
)


def test_a_paid_order_maps_from_the_masked_receiver_and_unix_times():
    assert map_order("douyin", load_payload("douyin", "normal")) == NORMAL


def test_a_decrypted_multi_line_order_prefers_the_plain_receiver():
    assert map_order("douyin", load_payload("douyin", "multi_line")) == CanonicalOrder(
        channel=SalesChannel.DOUYIN,
        channel_order_no="6920000000000000011",
        status=OrderStatus.PAID,
        raw_status="2",
        buyer_name="周八",
        buyer_phone="13511112222",
        address=CanonicalAddress(
            recipient_name="周八",
            phone="13511112222",
            province="重庆市",
            city="重庆市",
            district="渝中区",
            street="解放碑步行街8号",  # no street level in this address: the detail alone
        ),
        lines=(
            CanonicalLine("HG-01", "火锅底料", 1, 4400, "6920000000000000012", 4000),
            CanonicalLine("1700000000002", "麻辣香肠", 3, 3033, "6920000000000000013", 8500),
        ),
        total_fen=12500,
        placed_at=utc(2024, 5, 2, 2, 0),
        paid_at=utc(2024, 5, 2, 2, 1),
        updated_at=utc(2024, 5, 2, 2, 1, 40),
        payment_method=PaymentMethod.PLATFORM,
        risk_hints=("buyer_message",),
    )


def test_a_shipped_update_supersedes_the_paid_order():
    update = map_order("douyin", load_payload("douyin", "update"))

    assert update == replace(
        NORMAL, status=OrderStatus.SHIPPED, raw_status="3", updated_at=utc(2024, 5, 2, 2, 0)
    )
    assert supersedes(update, NORMAL.updated_at)


def test_a_cancelled_order_has_no_payment_time_when_pay_time_is_zero():
    assert map_order("douyin", load_payload("douyin", "cancelled")) == replace(
        NORMAL,
        channel_order_no="6920000000000000021",
        status=OrderStatus.CANCELLED,
        raw_status="4",
        lines=(CanonicalLine("HG-01", "火锅底料", 2, 4400, "6920000000000000022", 8800),),
        paid_at=None,
        updated_at=utc(2024, 5, 1, 2, 30),
    )


def test_an_amount_sent_as_yuan_text_is_refused_because_douyin_sends_fen():
    with pytest.raises(PayloadInvalid) as refused:
        map_order("douyin", load_payload("douyin", "garbage"))

    assert (refused.value.field, refused.value.reason, refused.value.path) == (
        "total_fen",
        "not_an_integer",
        "pay_amount",
    )
