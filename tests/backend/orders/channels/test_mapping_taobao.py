"""Taobao and Tmall TOP trades map to exact canonical orders through the same table."""

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

TAOBAO_NORMAL = CanonicalOrder(
    channel=SalesChannel.TAOBAO,
    channel_order_no="2231958349",
    status=OrderStatus.PAID,
    raw_status="WAIT_SELLER_SEND_GOODS",
    buyer_name="张**",
    buyer_phone="135*******",
    address=CanonicalAddress(
        recipient_name="张**",
        phone="135*******",
        province="浙江省",
        city="杭州市",
        district="西湖区",
        street="**********",
        postal_code="310030",
    ),
    lines=(CanonicalLine("TS-01-WHITE-M", "T恤", 1, 9900, "2231958350", 9900),),
    total_fen=9900,
    placed_at=utc(2024, 5, 1, 2, 0),
    paid_at=utc(2024, 5, 1, 2, 1),
    updated_at=utc(2024, 5, 1, 2, 1, 5),
    payment_method=PaymentMethod.PLATFORM,
    risk_hints=("recipient_masked",),
)

TAOBAO_MULTI_LINE = CanonicalOrder(
    channel=SalesChannel.TAOBAO,
    channel_order_no="2231958351",
    status=OrderStatus.PENDING_PAYMENT,
    raw_status="WAIT_BUYER_PAY",
    buyer_name="李四",
    buyer_phone="13912345678",
    address=CanonicalAddress(
        recipient_name="李四",
        phone="13912345678",
        province="浙江省",
        city="杭州市",
        district="余杭区",
        street="五常大道181号 3幢 501",
        postal_code=None,
    ),
    lines=(
        # No outer_sku_id: the platform sku_id, then the item id, stand in.
        CanonicalLine("8888", "保温杯", 2, 5990, "2231958352", 11000),
        CanonicalLine("777", "杯刷", 1, 500, "2231958353", 500),
    ),
    total_fen=11500,
    placed_at=utc(2024, 5, 2, 15, 59, 59),
    paid_at=None,
    updated_at=utc(2024, 5, 2, 15, 59, 59),
    payment_method=PaymentMethod.PLATFORM,
    risk_hints=("buyer_message",),
)

TMALL_NORMAL = CanonicalOrder(
    channel=SalesChannel.TMALL,
    channel_order_no="3608123456789",
    status=OrderStatus.PAID,
    raw_status="WAIT_SELLER_SEND_GOODS",
    buyer_name="陈静",
    buyer_phone="18621000000",
    address=CanonicalAddress(
        recipient_name="陈静",
        phone="18621000000",
        province="上海市",
        city="上海市",
        district="浦东新区",
        street="祖冲之路887弄 12号",
        postal_code="201203",
    ),
    lines=(CanonicalLine("AIR-PURIFIER-X1", "空气净化器 X1", 1, 129900, "3608123456790", 129900),),
    total_fen=129900,
    placed_at=utc(2024, 6, 17, 16, 0, 5),
    paid_at=utc(2024, 6, 17, 16, 0, 20),
    updated_at=utc(2024, 6, 17, 16, 0, 21),
    payment_method=PaymentMethod.PLATFORM,
    risk_hints=(),
)


def test_a_masked_taobao_trade_maps_and_is_flagged_as_masked():
    assert map_order("taobao", load_payload("taobao", "normal")) == TAOBAO_NORMAL


def test_an_unpaid_simplified_multi_line_trade_keeps_each_lines_paid_amount():
    assert map_order("taobao", load_payload("taobao", "multi_line")) == TAOBAO_MULTI_LINE


def test_a_shipped_update_supersedes_the_paid_trade():
    update = map_order("taobao", load_payload("taobao", "update"))

    assert update == replace(
        TAOBAO_NORMAL,
        status=OrderStatus.SHIPPED,
        raw_status="WAIT_BUYER_CONFIRM_GOODS",
        updated_at=utc(2024, 5, 2, 1, 0),
    )
    assert supersedes(update, TAOBAO_NORMAL.updated_at)
    assert not supersedes(TAOBAO_NORMAL, update.updated_at)


def test_a_trade_closed_before_payment_is_cancelled():
    assert map_order("taobao", load_payload("taobao", "cancelled")) == replace(
        TAOBAO_MULTI_LINE,
        status=OrderStatus.CANCELLED,
        raw_status="TRADE_CLOSED_BY_TAOBAO",
        updated_at=utc(2024, 5, 2, 16, 20),
    )


def test_a_taobao_trade_with_a_number_that_is_no_mobile_is_refused():
    with pytest.raises(PayloadInvalid) as refused:
        map_order("taobao", load_payload("taobao", "garbage"))

    assert (refused.value.field, refused.value.reason, refused.value.path) == (
        "address.phone",
        "not_a_mainland_mobile",
        "receiver_mobile",
    )


def test_a_tmall_trade_maps_through_the_top_table_as_tmall():
    assert map_order("tmall", load_payload("tmall", "normal")) == TMALL_NORMAL


def test_a_partly_shipped_tmall_trade_is_still_ours_to_ship_and_says_so():
    assert map_order("tmall", load_payload("tmall", "multi_line")) == replace(
        TMALL_NORMAL,
        channel_order_no="3608123456800",
        raw_status="SELLER_CONSIGNED_PART",
        lines=(
            CanonicalLine("AIR-PURIFIER-X1", "空气净化器 X1", 1, 129900, "3608123456801", 125900),
            CanonicalLine("FILTER-X1", "滤芯 X1", 2, 4900, "3608123456802", 9800),
        ),
        total_fen=135700,
        updated_at=utc(2024, 6, 19, 2, 0),
        risk_hints=("partially_shipped",),
    )


def test_a_finished_tmall_trade_is_completed():
    assert map_order("tmall", load_payload("tmall", "update")) == replace(
        TMALL_NORMAL,
        status=OrderStatus.COMPLETED,
        raw_status="TRADE_FINISHED",
        updated_at=utc(2024, 6, 25, 4, 0),
    )


def test_a_tmall_trade_closed_after_payment_is_refunded():
    assert map_order("tmall", load_payload("tmall", "cancelled")) == replace(
        TMALL_NORMAL,
        channel_order_no="3608123456810",
        status=OrderStatus.REFUNDED,
        raw_status="TRADE_CLOSED",
        lines=(
            CanonicalLine("AIR-PURIFIER-X1", "空气净化器 X1", 1, 129900, "3608123456811", 129900),
        ),
        updated_at=utc(2024, 6, 18, 0, 0),
    )


def test_a_tmall_payment_that_is_not_a_number_is_refused():
    with pytest.raises(PayloadInvalid) as refused:
        map_order("tmall", load_payload("tmall", "garbage"))

    assert (refused.value.field, refused.value.reason) == ("total_fen", "not_a_number")
