"""Every channel status we know maps to one lifecycle status; overrides and unknowns too."""

import pytest

from backend.orders.channels.canonical import PayloadInvalid
from backend.orders.channels.mapping import MAPPINGS, map_order
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import SalesChannel
from tests.backend.orders.channels.recorded import load_payload

S = OrderStatus

# (channel, fields replaced in its normal payload, lifecycle status)
STATUS_CASES = [
    ("shopify", {"financial_status": "pending"}, S.PENDING_PAYMENT),
    ("shopify", {"financial_status": "authorized"}, S.PENDING_PAYMENT),
    ("shopify", {"financial_status": "partially_paid"}, S.PENDING_PAYMENT),
    ("shopify", {"financial_status": "paid"}, S.PAID),
    ("shopify", {"financial_status": "partially_refunded"}, S.PAID),
    ("shopify", {"financial_status": "refunded"}, S.REFUNDED),
    ("shopify", {"financial_status": "voided"}, S.CANCELLED),
    ("shopify", {"financial_status": "expired"}, S.CANCELLED),
    (
        "shopify",
        {"financial_status": "refunded", "cancelled_at": "2024-05-02T00:00:00Z"},
        S.CANCELLED,
    ),
    ("taobao", {"status": "TRADE_NO_CREATE_PAY"}, S.PENDING_PAYMENT),
    ("taobao", {"status": "WAIT_BUYER_PAY"}, S.PENDING_PAYMENT),
    ("taobao", {"status": "PAY_PENDING"}, S.PENDING_PAYMENT),
    ("taobao", {"status": "WAIT_SELLER_SEND_GOODS"}, S.PAID),
    ("taobao", {"status": "SELLER_CONSIGNED_PART"}, S.PAID),
    ("taobao", {"status": "WAIT_BUYER_CONFIRM_GOODS"}, S.SHIPPED),
    ("taobao", {"status": "TRADE_BUYER_SIGNED"}, S.DELIVERED),
    ("taobao", {"status": "TRADE_FINISHED"}, S.COMPLETED),
    ("taobao", {"status": "TRADE_CLOSED"}, S.REFUNDED),
    ("taobao", {"status": "TRADE_CLOSED_BY_TAOBAO"}, S.CANCELLED),
    ("tmall", {"status": "WAIT_BUYER_PAY"}, S.PENDING_PAYMENT),
    ("tmall", {"status": "TRADE_CLOSED_BY_TAOBAO"}, S.CANCELLED),
    ("jd", {"orderState": "WAIT_SELLER_STOCK_OUT"}, S.PAID),
    ("jd", {"orderState": "WAIT_SELLER_DELIVERY"}, S.PAID),
    ("jd", {"orderState": "PAUSE"}, S.PAID),
    ("jd", {"orderState": "LOCKED"}, S.PAID),
    ("jd", {"orderState": "WAIT_GOODS_RECEIVE_CONFIRM"}, S.SHIPPED),
    ("jd", {"orderState": "SEND_TO_DISTRIBUTION_CENER"}, S.SHIPPED),
    ("jd", {"orderState": "DISTRIBUTION_CENTER_RECEIVED"}, S.SHIPPED),
    ("jd", {"orderState": "RECEIPTS_CONFIRM"}, S.DELIVERED),
    ("jd", {"orderState": "FINISHED_L"}, S.COMPLETED),
    ("jd", {"orderState": "TRADE_CANCELED"}, S.CANCELLED),
    ("pinduoduo", {"order_status": 1, "refund_status": 1}, S.PAID),
    ("pinduoduo", {"order_status": 2, "refund_status": 1}, S.SHIPPED),
    ("pinduoduo", {"order_status": 3, "refund_status": 1}, S.DELIVERED),
    ("pinduoduo", {"order_status": 1, "refund_status": 3}, S.PAID),
    ("pinduoduo", {"order_status": 1, "refund_status": 4}, S.CANCELLED),
    ("pinduoduo", {"order_status": 2, "refund_status": 4}, S.REFUNDED),
    ("pinduoduo", {"order_status": 3, "refund_status": 4}, S.REFUNDED),
    ("pinduoduo", {"order_status": "3", "refund_status": "4"}, S.REFUNDED),
    ("douyin", {"main_status": 1, "pay_time": 0}, S.PENDING_PAYMENT),
    ("douyin", {"main_status": 103}, S.PENDING_PAYMENT),
    ("douyin", {"main_status": 105}, S.PAID),
    ("douyin", {"main_status": 2}, S.PAID),
    ("douyin", {"main_status": 101}, S.PAID),
    ("douyin", {"main_status": 3}, S.SHIPPED),
    ("douyin", {"main_status": 4}, S.CANCELLED),
    ("douyin", {"main_status": 5}, S.COMPLETED),
    ("douyin", {"main_status": 21}, S.CANCELLED),
    ("douyin", {"main_status": 22}, S.REFUNDED),
    ("douyin", {"main_status": 39}, S.REFUNDED),
    ("douyin", {"main_status": None, "order_status": 3}, S.SHIPPED),
]


@pytest.mark.parametrize(("channel", "fields", "expected"), STATUS_CASES)
def test_a_channel_status_maps_to_its_lifecycle_status(channel, fields, expected):
    payload = load_payload(channel, "normal") | fields

    assert map_order(channel, payload).status is expected


def test_the_table_above_covers_every_status_every_mapping_knows():
    covered = {(channel, str(next(iter(f.values())))) for channel, f, _ in STATUS_CASES}
    for channel, mapping in MAPPINGS.items():
        for raw in mapping.statuses:
            assert (str(channel), raw) in covered or channel is SalesChannel.TMALL


@pytest.mark.parametrize(
    ("channel", "fields"),
    [
        ("shopify", {"financial_status": "chargeback"}),
        ("taobao", {"status": "wait_seller_send_goods"}),
        ("pinduoduo", {"order_status": 5}),
        ("douyin", {"main_status": 999}),
        ("douyin", {"main_status": True}),
    ],
)
def test_an_unknown_status_is_refused_rather_than_guessed(channel, fields):
    with pytest.raises(PayloadInvalid) as refused:
        map_order(channel, load_payload(channel, "normal") | fields)

    assert refused.value.field == "status"


@pytest.mark.parametrize(
    ("channel", "fields", "hint"),
    [
        ("shopify", {"financial_status": "partially_paid"}, "partially_paid"),
        ("taobao", {"status": "SELLER_CONSIGNED_PART"}, "partially_shipped"),
        ("jd", {"orderState": "LOCKED"}, "channel_locked"),
        ("douyin", {"main_status": 101}, "partially_shipped"),
        ("pinduoduo", {"refund_status": 3}, "after_sale_open"),
    ],
)
def test_a_status_that_needs_a_look_leaves_a_risk_hint(channel, fields, hint):
    assert hint in map_order(channel, load_payload(channel, "normal") | fields).risk_hints


def test_an_unpaid_order_never_carries_a_payment_time():
    payload = load_payload("taobao", "normal") | {"status": "WAIT_BUYER_PAY"}

    assert map_order("taobao", payload).paid_at is None
