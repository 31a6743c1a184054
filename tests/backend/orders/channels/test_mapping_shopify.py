"""Shopify orders/create and orders/updated webhook bodies map to exact canonical orders."""

import json
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
from backend.orders.channels.signatures import build_shopify_hmac, verify_shopify_hmac
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import SalesChannel
from tests.backend.orders.channels.recorded import load_payload, payload_bytes, utc

ADDRESS = CanonicalAddress(
    recipient_name="张三",
    phone="13800000000",
    province="广东省",
    city="深圳市",
    district="",
    street="科技南十二路2号",
    postal_code="518057",
)

NORMAL = CanonicalOrder(
    channel=SalesChannel.SHOPIFY,
    channel_order_no="820982911946154508",
    status=OrderStatus.PAID,
    raw_status="paid",
    buyer_name="张三",
    buyer_phone="13800000000",
    address=ADDRESS,
    lines=(
        CanonicalLine(
            channel_sku="TS-01",
            name="T恤",
            quantity=1,
            unit_price_fen=19900,
            channel_line_id="866550311766439020",
        ),
    ),
    total_fen=19900,
    placed_at=utc(2024, 5, 1, 2, 0),
    paid_at=None,
    updated_at=utc(2024, 5, 1, 2, 0, 5),
    payment_method=None,
    risk_hints=("district_missing",),
)


def test_a_paid_order_maps_with_family_name_first_and_the_mobile_normalized():
    assert map_order(SalesChannel.SHOPIFY, load_payload("shopify", "normal")) == NORMAL


def test_a_multi_line_pending_order_maps_every_line_and_falls_back_to_the_variant_id():
    assert map_order("shopify", load_payload("shopify", "multi_line")) == CanonicalOrder(
        channel=SalesChannel.SHOPIFY,
        channel_order_no="820982911946154509",
        status=OrderStatus.PENDING_PAYMENT,
        raw_status="pending",
        buyer_name="李小红",
        buyer_phone="13800138000",
        address=CanonicalAddress(
            recipient_name="李小红",
            phone="13800138000",
            province="广东省",
            city="深圳市",
            district="",
            street="南山区科技园科苑路15号 B座1203",
            postal_code=None,  # "51805" is not a postal code, and not worth refusing the order
        ),
        lines=(
            CanonicalLine("MUG-02", "马克杯", 2, 2925, "866550311766439021"),
            CanonicalLine("808950811", "帆布袋", 1, 19900, "866550311766439022"),
        ),
        total_fen=25750,
        placed_at=utc(2024, 5, 2, 13, 15),
        paid_at=None,
        updated_at=utc(2024, 5, 2, 13, 15, 2),
        risk_hints=("buyer_message", "district_missing"),
    )


def test_an_orders_updated_body_is_the_same_order_at_a_newer_version():
    update = map_order("shopify", load_payload("shopify", "update"))

    assert update == replace(
        NORMAL,
        raw_status="partially_refunded",
        updated_at=utc(2024, 5, 1, 4, 30),
        risk_hints=("district_missing", "partially_refunded"),
    )
    assert supersedes(update, NORMAL.updated_at)
    assert not supersedes(NORMAL, update.updated_at)


def test_a_cancelled_order_is_cancelled_even_while_its_financial_status_is_still_paid():
    assert map_order("shopify", load_payload("shopify", "cancelled")) == replace(
        NORMAL,
        channel_order_no="820982911946154510",
        status=OrderStatus.CANCELLED,
        placed_at=utc(2024, 5, 3, 0, 0),
        updated_at=utc(2024, 5, 3, 1, 0),
        risk_hints=("district_missing", "test_order"),
    )


def test_a_price_with_three_decimals_is_refused_naming_the_line():
    with pytest.raises(PayloadInvalid) as refused:
        map_order("shopify", load_payload("shopify", "garbage"))

    assert (refused.value.field, refused.value.reason, refused.value.path) == (
        "lines[0].unit_price_fen",
        "too_many_decimals",
        "line_items[0].price",
    )


def test_an_order_in_another_currency_is_refused():
    payload = load_payload("shopify", "normal") | {"currency": "USD"}

    with pytest.raises(PayloadInvalid) as refused:
        map_order("shopify", payload)

    assert (refused.value.field, refused.value.reason) == ("currency", "unsupported_currency")


def test_a_time_without_an_offset_is_refused_rather_than_guessed():
    payload = load_payload("shopify", "normal") | {"updated_at": "2024-05-01T10:00:05"}

    with pytest.raises(PayloadInvalid) as refused:
        map_order("shopify", payload)

    assert (refused.value.field, refused.value.reason) == ("updated_at", "time_without_offset")


def test_an_order_without_any_phone_is_refused():
    payload = load_payload("shopify", "normal")
    payload["customer"]["phone"] = None
    payload["shipping_address"]["phone"] = ""

    with pytest.raises(PayloadInvalid) as refused:
        map_order("shopify", payload)

    assert (refused.value.field, refused.value.reason) == ("address.phone", "missing")


def test_the_signed_raw_body_verifies_and_then_maps():
    raw_body = payload_bytes("shopify", "normal")
    header = build_shopify_hmac(raw_body, "shpss_test_secret")

    assert verify_shopify_hmac(raw_body, header, "shpss_test_secret")
    assert map_order("shopify", json.loads(raw_body)) == NORMAL
    # The same JSON re-serialised is not the body Shopify signed.
    reserialised = json.dumps(json.loads(raw_body)).encode()
    assert not verify_shopify_hmac(reserialised, header, "shpss_test_secret")
