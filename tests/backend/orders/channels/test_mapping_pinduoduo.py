"""Pinduoduo order_info payloads map to exact canonical orders; yuan arrive as JSON numbers."""

from dataclasses import replace

import pytest

from backend.orders.channels.canonical import (
    CanonicalAddress,
    CanonicalLine,
    CanonicalOrder,
    CanonicalParcel,
    PayloadInvalid,
    supersedes,
)
from backend.orders.channels.mapping import map_order
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import PaymentMethod, SalesChannel
from tests.backend.orders.channels.recorded import load_payload, utc

NORMAL = CanonicalOrder(
    channel=SalesChannel.PINDUODUO,
    channel_order_no="240501-123456789012345",
    status=OrderStatus.PAID,
    raw_status="1",
    buyer_name="赵六",
    buyer_phone="15800001234",
    address=CanonicalAddress(
        recipient_name="赵六",
        phone="15800001234",
        province="广东省",
        city="广州市",
        district="天河区",
        street="天河路385号",
    ),
    lines=(CanonicalLine("SOCK-3P", "棉袜三双装", 1, 3990),),
    total_fen=3990,
    placed_at=utc(2024, 5, 1, 1, 59),
    paid_at=utc(2024, 5, 1, 2, 0),
    updated_at=utc(2024, 5, 1, 2, 0),
    payment_method=PaymentMethod.PLATFORM,
    risk_hints=(),
)


def test_an_order_to_ship_is_paid_and_its_float_price_is_exact_fen():
    assert map_order("pinduoduo", load_payload("pinduoduo", "normal")) == NORMAL


def test_a_multi_line_order_under_risk_control_and_after_sale_says_so():
    assert map_order("pinduoduo", load_payload("pinduoduo", "multi_line")) == CanonicalOrder(
        channel=SalesChannel.PINDUODUO,
        channel_order_no="240502-223456789012345",
        status=OrderStatus.PAID,
        raw_status="1",
        buyer_name="钱七",
        buyer_phone="15900005678",
        address=CanonicalAddress(
            recipient_name="钱七",
            phone="15900005678",
            province="湖北省",
            city="武汉市",
            district="洪山区",
            street="珞喻路1037号",
        ),
        lines=(
            CanonicalLine("1100002", "数据线", 1, 1),
            CanonicalLine("CASE-14", "手机壳", 2, 2000),
        ),
        total_fen=4001,
        placed_at=utc(2024, 5, 2, 4, 0),
        paid_at=utc(2024, 5, 2, 4, 0, 10),
        updated_at=utc(2024, 5, 2, 4, 30),
        payment_method=PaymentMethod.PLATFORM,
        risk_hints=("after_sale_open", "buyer_message", "channel_risk_control"),
    )


def test_a_shipped_update_supersedes_the_paid_order():
    update = map_order("pinduoduo", load_payload("pinduoduo", "update"))

    assert update == replace(
        NORMAL,
        status=OrderStatus.SHIPPED,
        raw_status="2",
        updated_at=utc(2024, 5, 2, 0, 15),
        # The recorded update names the waybill but no logistics_id: no carrier to record it by.
        parcels=(CanonicalParcel(None, "", "YT0000000000001"),),
    )
    assert supersedes(update, NORMAL.updated_at)


def test_a_refund_before_shipping_cancels_the_order():
    assert map_order("pinduoduo", load_payload("pinduoduo", "cancelled")) == replace(
        NORMAL,
        channel_order_no="240501-123456789099999",
        status=OrderStatus.CANCELLED,
        updated_at=utc(2024, 5, 1, 7, 0),
    )


def test_an_order_without_lines_is_refused():
    with pytest.raises(PayloadInvalid) as refused:
        map_order("pinduoduo", load_payload("pinduoduo", "garbage"))

    assert (refused.value.field, refused.value.reason, refused.value.path) == (
        "lines",
        "empty",
        "item_list",
    )
