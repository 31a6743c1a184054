"""Each sales channel's order payload as a mapping table; map_order applies the channel's table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from backend.orders.channels.canonical import CanonicalOrder
from backend.orders.channels.extraction import apply_mapping
from backend.orders.channels.shipping import read_parcels
from backend.orders.channels.spec import (
    ANY_VALUE,
    AddressMapping,
    ChannelMapping,
    LineMapping,
    RiskRule,
    StatusOverride,
    at,
    table,
)
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import PaymentMethod, SalesChannel

# The field names and codes below are third-party-consistent unless a comment says
# "unconfirmed": a name or meaning no source confirms (verify it against a real payload or
# the vendor sandbox before relying on it). Each channel's section in docs/protocols.md
# says where the fields come from.

S = OrderStatus

# Shopify orders/create and orders/updated (REST webhook JSON, snake_case):
# docs/protocols.md, "Shopify / Order payload".
SHOPIFY = ChannelMapping(
    channel=SalesChannel.SHOPIFY,
    # `id` is global and never reused; `name` ("#1019") is per shop and the merchant may edit it.
    order_no=at("id", converter="identifier"),
    status=at("financial_status", converter="code"),
    statuses=table(
        {
            "pending": S.PENDING_PAYMENT,
            # Manual capture: the card is validated but no money has moved yet.
            "authorized": S.PENDING_PAYMENT,
            "partially_paid": S.PENDING_PAYMENT,
            "paid": S.PAID,
            # Still to be shipped: only part of the money went back.
            "partially_refunded": S.PAID,
            "refunded": S.REFUNDED,
            "voided": S.CANCELLED,
            "expired": S.CANCELLED,  # GraphQL EXPIRED; its REST spelling is unconfirmed
        }
    ),
    # A cancelled order keeps its financial_status (often "paid" until the refund runs).
    status_overrides=(StatusOverride("cancelled_at", table({ANY_VALUE: S.CANCELLED})),),
    status_hints=MappingProxyType(
        {"partially_refunded": "partially_refunded", "partially_paid": "partially_paid"}
    ),
    # Chinese names are family name first; Shopify's `name` is "first last".
    buyer_name=at(
        "customer.last_name?+customer.first_name?",
        "shipping_address.last_name?+shipping_address.first_name?",
        "shipping_address.name",
    ),
    buyer_phone=at("phone", "customer.phone", "shipping_address.phone", converter="mobile"),
    address=AddressMapping(
        recipient_name=at(
            "shipping_address.last_name?+shipping_address.first_name?", "shipping_address.name"
        ),
        phone=at("shipping_address.phone", "phone", "customer.phone", converter="mobile"),
        province=at("shipping_address.province"),
        city=at("shipping_address.city"),
        # Shopify's address has no district; a CN checkout puts it inside address1.
        district=None,
        street=at("shipping_address.address1+shipping_address.address2?", separator=" "),
        postal_code=at("shipping_address.zip", converter="postal_code", required=False),
    ),
    lines=LineMapping(
        items=("line_items",),
        # `sku` is optional in Shopify; the variant id is then the only stable key.
        channel_sku=at("sku", "variant_id", converter="identifier"),
        name=at("title", "name"),
        quantity=at("quantity", converter="quantity"),
        unit_price_fen=at("price", converter="yuan"),
        channel_line_id=at("id", converter="identifier", required=False),
    ),
    total_fen=at("total_price", converter="yuan"),
    placed_at=at("created_at", converter="iso_time"),
    # The order JSON carries no payment time (its transactions do); processed_at is checkout.
    paid_at=None,
    updated_at=at("updated_at", converter="iso_time"),
    currency=at("currency"),
    risk_rules=(RiskRule("test", "test_order"), RiskRule("note", "buyer_message")),
)

# TOP trade (taobao.trades.sold.get / taobao.trade.fullinfo.get), one `trade` object:
# docs/protocols.md, "Taobao and Tmall / Trade fields".
TOP_STATUSES = table(
    {
        "TRADE_NO_CREATE_PAY": S.PENDING_PAYMENT,
        "WAIT_BUYER_PAY": S.PENDING_PAYMENT,
        "PAY_PENDING": S.PENDING_PAYMENT,
        "WAIT_SELLER_SEND_GOODS": S.PAID,
        # Part shipped, part still ours to ship: the order is not shipped as a whole.
        "SELLER_CONSIGNED_PART": S.PAID,
        "WAIT_BUYER_CONFIRM_GOODS": S.SHIPPED,
        "TRADE_BUYER_SIGNED": S.DELIVERED,  # cash on delivery, signed
        "TRADE_FINISHED": S.COMPLETED,
        "TRADE_CLOSED": S.REFUNDED,  # closed after payment: refunded in full
        "TRADE_CLOSED_BY_TAOBAO": S.CANCELLED,  # closed before payment
    }
)

TAOBAO = ChannelMapping(
    channel=SalesChannel.TAOBAO,
    order_no=at("tid_str", "tid", converter="identifier"),
    status=at("status", converter="code"),
    statuses=TOP_STATUSES,
    status_hints=MappingProxyType({"SELLER_CONSIGNED_PART": "partially_shipped"}),
    # buyer_nick is masked or replaced by buyer_open_uid; the receiver is whom we can reach.
    buyer_name=at("receiver_name"),
    buyer_phone=at("receiver_mobile", converter="mobile"),
    address=AddressMapping(
        recipient_name=at("receiver_name"),
        # receiver_phone is the landline; our customers are keyed by mobile.
        phone=at("receiver_mobile", converter="mobile"),
        province=at("receiver_state"),
        city=at("receiver_city"),
        district=at("receiver_district", required=False),
        # Unconfirmed whether receiver_address already contains receiver_town; we take it
        # as the detail.
        street=at("receiver_address"),
        postal_code=at("receiver_zip", converter="postal_code", required=False),
    ),
    lines=LineMapping(
        # simplify=false wraps the list as {"order": [...]}; simplify=true sends the list.
        items=("orders.order", "orders"),
        # outer_sku_id (unconfirmed) is the merchant's own code, which is what our SKUs are.
        channel_sku=at("outer_sku_id", "sku_id", "num_iid", converter="identifier"),
        name=at("title"),
        quantity=at("num", converter="quantity"),
        unit_price_fen=at("price", converter="yuan"),
        channel_line_id=at("oid", converter="identifier", required=False),
        paid_fen=at("payment", converter="yuan", required=False),
    ),
    total_fen=at("payment", converter="yuan"),
    placed_at=at("created", converter="china_time"),
    paid_at=at("pay_time", converter="china_time", required=False),
    updated_at=at("modified", converter="china_time"),
    payment_method=PaymentMethod.PLATFORM,
    risk_rules=(RiskRule("buyer_message", "buyer_message"),),  # field name unconfirmed
)

# Tmall trades come from the same TOP APIs with the same fields.
TMALL = replace(TAOBAO, channel=SalesChannel.TMALL)

# JD POP order (one element of orderInfoList). The states are third-party-consistent; every
# field name is unconfirmed (docs/protocols.md, "JD / JD order fields").
JD = ChannelMapping(
    channel=SalesChannel.JD,
    order_no=at("orderId", converter="identifier"),
    status=at("orderState", converter="code"),
    statuses=table(
        {
            "WAIT_SELLER_STOCK_OUT": S.PAID,
            "WAIT_SELLER_DELIVERY": S.PAID,  # 海外购
            "PAUSE": S.PAID,
            "LOCKED": S.PAID,  # JD holds the order, typically while a cancel request is open
            "WAIT_GOODS_RECEIVE_CONFIRM": S.SHIPPED,
            "SEND_TO_DISTRIBUTION_CENER": S.SHIPPED,  # sic: JD's spelling (LBP)
            "DISTRIBUTION_CENTER_RECEIVED": S.SHIPPED,
            "RECEIPTS_CONFIRM": S.DELIVERED,
            "FINISHED_L": S.COMPLETED,
            "TRADE_CANCELED": S.CANCELLED,
        }
    ),
    # Shipping a paused or locked order risks shipping one the buyer is cancelling.
    status_hints=MappingProxyType({"PAUSE": "channel_paused", "LOCKED": "channel_locked"}),
    buyer_name=at("consigneeInfo.fullname"),
    buyer_phone=at("consigneeInfo.mobile", converter="mobile"),
    address=AddressMapping(
        recipient_name=at("consigneeInfo.fullname"),
        phone=at("consigneeInfo.mobile", converter="mobile"),
        province=at("consigneeInfo.province"),
        city=at("consigneeInfo.city"),
        district=at("consigneeInfo.county", required=False),
        # fullAddress usually repeats province, city and county in front of the detail.
        street=at("consigneeInfo.fullAddress"),
    ),
    lines=LineMapping(
        items=("itemInfoList",),
        channel_sku=at("outerSkuId", "skuId", converter="identifier"),
        name=at("skuName"),
        quantity=at("itemTotal", converter="quantity"),
        unit_price_fen=at("jdPrice", converter="yuan"),
    ),
    total_fen=at("orderPayment", converter="yuan"),
    placed_at=at("orderStartTime", converter="china_time"),
    paid_at=at("paymentConfirmTime", converter="china_time", required=False),
    updated_at=at("modified", converter="china_time"),
    payment_method=PaymentMethod.PLATFORM,
    risk_rules=(RiskRule("orderRemark", "buyer_message"),),
)

# PDD order_info (pdd.order.information.get). order_status, refund_status and buyer_memo are
# third-party-consistent; receiver_*, province/city/town, item_list, the amounts and
# risk_control_status are unconfirmed (docs/protocols.md, "Pinduoduo / Pinduoduo order fields").
PINDUODUO = ChannelMapping(
    channel=SalesChannel.PINDUODUO,
    order_no=at("order_sn", converter="identifier"),
    status=at("order_status", converter="code"),
    # PDD only lists orders once paid (成团), so there is no pending-payment code.
    statuses=table({"1": S.PAID, "2": S.SHIPPED, "3": S.DELIVERED}),
    status_overrides=(
        # refund_status 4 退款成功: before shipping that is a cancellation, after it a refund.
        StatusOverride("refund_status", table({"4": S.CANCELLED}), frozenset({S.PAID})),
        StatusOverride(
            "refund_status", table({"4": S.REFUNDED}), frozenset({S.SHIPPED, S.DELIVERED})
        ),
    ),
    buyer_name=at("receiver_name"),
    buyer_phone=at("receiver_phone", converter="mobile"),
    address=AddressMapping(
        recipient_name=at("receiver_name"),
        phone=at("receiver_phone", converter="mobile"),
        province=at("province"),
        city=at("city"),
        district=at("town", required=False),  # PDD calls the county level "town"
        street=at("address"),
    ),
    lines=LineMapping(
        items=("item_list",),
        channel_sku=at("outer_id", "sku_id", "goods_id", converter="identifier"),
        name=at("goods_name"),
        quantity=at("goods_count", converter="quantity"),
        # Yuan as a JSON number (unconfirmed); the converter reads it back through repr,
        # never float maths.
        unit_price_fen=at("goods_price", converter="yuan"),
    ),
    total_fen=at("pay_amount", converter="yuan"),
    placed_at=at("created_time", converter="china_time"),
    paid_at=at("confirm_time", converter="china_time", required=False),
    updated_at=at("updated_at", converter="china_time"),
    payment_method=PaymentMethod.PLATFORM,
    risk_rules=(
        RiskRule("refund_status", "after_sale_open", frozenset({"2", "3"})),
        RiskRule("risk_control_status", "channel_risk_control", frozenset({"1"})),
        RiskRule("buyer_memo", "buyer_message"),
    ),
)

# Douyin shop_order_detail (order.orderDetail). Amounts are fen, times unix seconds:
# docs/protocols.md, "Douyin / Douyin order fields".
DOUYIN = ChannelMapping(
    channel=SalesChannel.DOUYIN,
    order_no=at("order_id", converter="identifier"),
    # That order_status shares main_status's codes is unconfirmed: used only when main is absent.
    status=at("main_status", "order_status", converter="code"),
    statuses=table(
        {
            "1": S.PENDING_PAYMENT,
            "103": S.PENDING_PAYMENT,  # 部分支付
            "105": S.PAID,
            "2": S.PAID,  # 备货中
            "101": S.PAID,  # 部分发货
            "3": S.SHIPPED,
            "4": S.CANCELLED,
            "5": S.COMPLETED,
            "21": S.CANCELLED,  # 发货前退款完结: nothing left the warehouse
            "22": S.REFUNDED,
            "39": S.REFUNDED,
        }
    ),
    status_hints=MappingProxyType({"101": "partially_shipped"}),
    # post_receiver/post_tel are the plain values (decrypted, or older API versions; unconfirmed);
    # otherwise the mask_* copies are the best we have until order.batchDecrypt.
    buyer_name=at("post_receiver", "mask_post_receiver"),
    buyer_phone=at("post_tel", "mask_post_tel", converter="mobile"),
    address=AddressMapping(
        recipient_name=at("post_receiver", "mask_post_receiver"),
        phone=at("post_tel", "mask_post_tel", converter="mobile"),
        province=at("post_addr.province.name"),
        city=at("post_addr.city.name"),
        district=at("post_addr.town.name", required=False),  # Douyin's town is the county
        street=at("post_addr.street.name?+post_addr.detail"),
    ),
    lines=LineMapping(
        items=("sku_order_list",),
        # out_sku_id and code are unconfirmed names; sku_id is Douyin's own id.
        channel_sku=at("out_sku_id", "code", "sku_id", converter="identifier"),
        name=at("product_name"),
        quantity=at("item_num", converter="quantity"),
        # The three per-item fields below are unconfirmed names.
        unit_price_fen=at("goods_price", converter="fen"),
        channel_line_id=at("order_id", converter="identifier", required=False),
        paid_fen=at("pay_amount", converter="fen", required=False),
    ),
    total_fen=at("pay_amount", converter="fen"),
    placed_at=at("create_time", converter="unix_seconds"),
    paid_at=at("pay_time", converter="unix_seconds", required=False),
    updated_at=at("update_time", converter="unix_seconds"),
    payment_method=PaymentMethod.PLATFORM,
    risk_rules=(RiskRule("buyer_words", "buyer_message"),),
)

MAPPINGS: MappingProxyType[SalesChannel, ChannelMapping] = MappingProxyType(
    {m.channel: m for m in (SHOPIFY, TAOBAO, TMALL, JD, PINDUODUO, DOUYIN)}
)


class ChannelNotMapped(LookupError):
    """No mapping table exists for this channel (own shop and manual orders come another way)."""


def get_mapping(channel: SalesChannel | str) -> ChannelMapping:
    try:
        return MAPPINGS[SalesChannel(channel)]
    except (KeyError, ValueError):
        raise ChannelNotMapped(str(channel)) from None


def map_order(channel: SalesChannel | str, payload: object) -> CanonicalOrder:
    """One channel order payload as a CanonicalOrder; raises PayloadInvalid for a bad field."""
    mapping = get_mapping(channel)
    order = apply_mapping(mapping, payload)
    if not isinstance(payload, Mapping):
        return order
    return replace(order, parcels=read_parcels(mapping.channel, payload))
