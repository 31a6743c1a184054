"""JD POP orders (orderInfoList items) map to exact canonical orders."""

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

ADDRESS = CanonicalAddress(
    recipient_name="王五",
    phone="13700001111",
    province="江苏省",
    city="南京市",
    district="鼓楼区",
    # fullAddress repeats the region; it is taken as sent (docs/protocols.md, "JD / JD order
    # fields").
    street="江苏南京市鼓楼区中山北路1号",
    postal_code=None,
)

NORMAL = CanonicalOrder(
    channel=SalesChannel.JD,
    channel_order_no="230512345678",
    status=OrderStatus.PAID,
    raw_status="WAIT_SELLER_STOCK_OUT",
    buyer_name="王五",
    buyer_phone="13700001111",
    address=ADDRESS,
    lines=(CanonicalLine("BT-500", "保温杯 500ml", 1, 12900),),
    total_fen=12900,
    placed_at=utc(2024, 5, 1, 2, 0),
    paid_at=utc(2024, 5, 1, 2, 0, 30),
    updated_at=utc(2024, 5, 1, 2, 0, 31),
    payment_method=PaymentMethod.PLATFORM,
    risk_hints=(),
)


def test_an_order_waiting_to_leave_the_warehouse_is_paid():
    assert map_order("jd", load_payload("jd", "normal")) == NORMAL


def test_a_paused_masked_multi_line_order_maps_with_its_hints():
    assert map_order("jd", load_payload("jd", "multi_line")) == replace(
        NORMAL,
        channel_order_no="230512345699",
        raw_status="PAUSE",
        buyer_name="王*",
        buyer_phone="137****1111",
        address=replace(ADDRESS, recipient_name="王*", phone="137****1111"),
        lines=(
            CanonicalLine("BT-500", "保温杯 500ml", 1, 12900),
            # An empty outerSkuId falls back to JD's skuId.
            CanonicalLine("100012345679", "杯套", 2, 2990),
        ),
        total_fen=17880,
        placed_at=utc(2024, 5, 4, 12, 0),
        paid_at=utc(2024, 5, 4, 12, 1),
        updated_at=utc(2024, 5, 4, 12, 30),
        risk_hints=("buyer_message", "channel_paused", "recipient_masked"),
    )


def test_an_update_with_a_millisecond_china_time_is_shipped_and_newer():
    update = map_order("jd", load_payload("jd", "update"))

    assert update == replace(
        NORMAL,
        status=OrderStatus.SHIPPED,
        raw_status="WAIT_GOODS_RECEIVE_CONFIRM",
        updated_at=utc(2024, 5, 1, 10, 45, 12, 350000),
    )
    assert supersedes(update, NORMAL.updated_at)


def test_a_cancelled_order_is_cancelled():
    assert map_order("jd", load_payload("jd", "cancelled")) == replace(
        NORMAL,
        channel_order_no="230512345700",
        status=OrderStatus.CANCELLED,
        raw_status="TRADE_CANCELED",
        updated_at=utc(2024, 5, 1, 3, 0),
    )


def test_a_state_missing_from_the_table_is_refused_not_guessed():
    with pytest.raises(PayloadInvalid) as refused:
        map_order("jd", load_payload("jd", "garbage"))

    assert (refused.value.field, refused.value.reason, refused.value.path) == (
        "status",
        "unknown_status",
        "orderState",
    )
