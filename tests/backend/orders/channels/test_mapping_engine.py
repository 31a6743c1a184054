"""What every mapping table gets from the one code path: missing fields, hints, versions."""

from dataclasses import replace
from types import MappingProxyType

import pytest

from backend.orders.channels.canonical import CanonicalLine, PayloadInvalid, supersedes
from backend.orders.channels.extraction import apply_mapping
from backend.orders.channels.mapping import ChannelNotMapped, map_order
from backend.orders.channels.spec import AddressMapping, ChannelMapping, FieldSpec, LineMapping, at
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import SalesChannel
from backend.orders.service import NewAddress, NewLine
from tests.backend.orders.channels.recorded import CASES, PAYLOADS, load_payload, utc


def without(payload, *paths):
    for path in paths:
        *parents, last = path.split(".")
        target = payload
        for key in parents:
            target = target[key]
        del target[last]
    return payload


def test_every_channel_has_every_recorded_case():
    for channel in ("shopify", "taobao", "tmall", "jd", "pinduoduo", "douyin"):
        assert sorted(p.stem for p in (PAYLOADS / channel).glob("*.json")) == sorted(CASES)


@pytest.mark.parametrize(
    ("channel", "removed", "field"),
    [
        ("shopify", ["id"], "channel_order_no"),
        ("shopify", ["financial_status"], "status"),
        ("shopify", ["line_items"], "lines"),
        ("shopify", ["total_price"], "total_fen"),
        ("shopify", ["updated_at"], "updated_at"),
        ("shopify", ["shipping_address.city"], "address.city"),
        ("taobao", ["tid", "tid_str"], "channel_order_no"),
        ("taobao", ["receiver_address"], "address.street"),
        ("taobao", ["orders"], "lines"),
        ("taobao", ["modified"], "updated_at"),
        ("jd", ["consigneeInfo"], "address.recipient_name"),
        ("jd", ["itemInfoList"], "lines"),
        ("pinduoduo", ["order_sn"], "channel_order_no"),
        ("pinduoduo", ["province"], "address.province"),
        ("douyin", ["post_addr.detail"], "address.street"),
        ("douyin", ["pay_amount"], "total_fen"),
        ("douyin", ["create_time"], "placed_at"),
    ],
)
def test_a_missing_required_field_is_refused_by_its_canonical_name(channel, removed, field):
    with pytest.raises(PayloadInvalid) as refused:
        map_order(channel, without(load_payload(channel, "normal"), *removed))

    assert (refused.value.field, refused.value.reason) == (field, "missing")


@pytest.mark.parametrize(
    ("channel", "line_field", "value", "field", "reason"),
    [
        ("shopify", "quantity", 0, "lines[0].quantity", "not_positive"),
        ("shopify", "quantity", "2", "lines[0].quantity", None),
        ("shopify", "price", "-1.00", "lines[0].unit_price_fen", "negative"),
        ("taobao", "num", 1.5, "lines[0].quantity", "not_an_integer"),
        ("jd", "jdPrice", "1,299.00", "lines[0].unit_price_fen", "not_a_number"),
        ("douyin", "goods_price", -1, "lines[0].unit_price_fen", "negative"),
        ("douyin", "product_name", "", "lines[0].name", "missing"),
        ("pinduoduo", "goods_price", 12.345, "lines[0].unit_price_fen", "too_many_decimals"),
    ],
)
def test_garbage_inside_a_line_is_refused_by_its_line_and_field(
    channel, line_field, value, field, reason
):
    payload = load_payload(channel, "normal")
    items_key = {"shopify": "line_items", "jd": "itemInfoList", "pinduoduo": "item_list"}.get(
        channel, "sku_order_list"
    )
    items = payload["orders"]["order"] if channel == "taobao" else payload[items_key]
    items[0][line_field] = value

    if reason is None:
        assert map_order(channel, payload).lines[0].quantity == 2
        return
    with pytest.raises(PayloadInvalid) as refused:
        map_order(channel, payload)
    assert (refused.value.field, refused.value.reason) == (field, reason)


@pytest.mark.parametrize("payload", [None, [], "{}", 42])
def test_a_payload_that_is_no_object_is_refused(payload):
    with pytest.raises(PayloadInvalid) as refused:
        map_order("shopify", payload)

    assert (refused.value.field, refused.value.reason) == ("payload", "not_an_object")


def test_a_line_that_is_no_object_is_refused():
    payload = load_payload("jd", "normal")
    payload["itemInfoList"].append("BT-500 x1")

    with pytest.raises(PayloadInvalid) as refused:
        map_order("jd", payload)

    assert (refused.value.field, refused.value.reason) == ("lines[1]", "not_an_object")


@pytest.mark.parametrize("channel", ["own_shop", "manual", "wechat", "ebay"])
def test_a_channel_without_a_table_is_named_as_such(channel):
    with pytest.raises(ChannelNotMapped):
        map_order(channel, {})


def test_a_place_name_outside_the_division_table_is_kept_and_flagged():
    payload = load_payload("taobao", "multi_line") | {"receiver_state": "Zhejiang"}

    order = map_order("taobao", payload)

    assert order.address.province == "Zhejiang"
    assert order.risk_hints == ("buyer_message", "division_unknown")


def test_an_order_and_its_address_feed_the_order_service_unchanged():
    order = map_order("douyin", load_payload("douyin", "multi_line"))

    address = NewAddress(**order.address.as_dict())
    lines = [
        NewLine(line.channel_sku, line.name, line.quantity, line.unit_price_fen)
        for line in order.lines
    ]

    assert address.as_dict() == order.address.as_dict()
    assert [line.sku for line in lines] == ["HG-01", "1700000000002"]


def test_a_new_channel_is_a_table_not_new_code():
    # A made-up mini-programme shop, to show that only data is needed.
    mapping = ChannelMapping(
        channel=SalesChannel.WECHAT,
        order_no=at("order.no", converter="identifier"),
        status=at("order.state", converter="code"),
        statuses=MappingProxyType({"PAID": OrderStatus.PAID}),
        buyer_name=at("to.name"),
        buyer_phone=at("to.mobile", converter="mobile"),
        address=AddressMapping(
            recipient_name=at("to.name"),
            phone=at("to.mobile", converter="mobile"),
            province=at("to.province"),
            city=at("to.city"),
            district=at("to.district"),
            street=at("to.street"),
        ),
        lines=LineMapping(
            items=("goods",),
            channel_sku=at("code", converter="identifier"),
            name=at("title"),
            quantity=at("count", converter="quantity"),
            unit_price_fen=at("price_fen", converter="fen"),
        ),
        total_fen=at("order.paid_fen", converter="fen"),
        placed_at=at("order.created", converter="iso_time"),
        paid_at=None,
        updated_at=at("order.version", converter="unix_seconds"),
    )
    payload = {
        "order": {"no": "W1", "state": "PAID", "paid_fen": 500, "created": "2024-05-01T10:00+08:00"}
        | {"version": 1714528800},
        "to": {"name": "吴九", "mobile": "13900000000", "province": "北京市", "city": "北京市"}
        | {"district": "朝阳区", "street": "建国路1号"},
        "goods": [{"code": "G1", "title": "茶叶", "count": 1, "price_fen": 500}],
    }

    order = apply_mapping(mapping, payload)

    assert (order.channel, order.channel_order_no, order.status) == (
        SalesChannel.WECHAT,
        "W1",
        OrderStatus.PAID,
    )
    assert order.lines == (CanonicalLine("G1", "茶叶", 1, 500),)
    assert order.updated_at == utc(2024, 5, 1, 2, 0)
    assert order.risk_hints == ()


def test_a_typo_in_a_converter_name_fails_when_the_table_is_built():
    with pytest.raises(ValueError, match="bad field spec"):
        FieldSpec(("price",), converter="yaun")


@pytest.mark.parametrize(
    ("incoming", "stored", "expected"),
    [
        (utc(2024, 5, 1, 2, 0, 6), utc(2024, 5, 1, 2, 0, 5), True),
        (utc(2024, 5, 1, 2, 0, 5), utc(2024, 5, 1, 2, 0, 5), False),
        (utc(2024, 5, 1, 2, 0, 4), utc(2024, 5, 1, 2, 0, 5), False),
        (utc(2024, 5, 1, 2, 0, 4), None, True),
        (None, None, True),
        (None, utc(2024, 5, 1, 2, 0, 5), False),
    ],
)
def test_only_a_strictly_newer_channel_version_supersedes_the_stored_one(
    incoming, stored, expected
):
    order = replace(map_order("shopify", load_payload("shopify", "normal")), updated_at=incoming)

    assert supersedes(order, stored) is expected
