"""Ship confirmation, pure: each platform's request from a ShipConfirmation, and its answers."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from backend.orders.channels import signatures as sig
from backend.orders.channels.ship_confirm import douyin, jd, pinduoduo, shopify, taobao
from backend.orders.channels.ship_confirm.base import (
    CarrierNotMapped,
    ChannelUnavailable,
    ConfirmationRefused,
    Parcel,
    ShipConfirmation,
    ShippedLine,
    merge_carriers,
    parse_carrier_overrides,
)
from backend.orders.models import SalesChannel
from backend.orders.shops import ShopConfig

NOW = datetime(2026, 12, 1, 2, 3, 4, tzinfo=UTC)  # 10:03:04 in China


def shop(channel: str) -> ShopConfig:
    return ShopConfig(
        code=f"{channel}-1",
        channel=SalesChannel(channel),
        name="旗舰店",
        app_key="app-key",
        app_secret="app-secret",
        session_token="session-token",
        api_base_url="http://127.0.0.1:1",
    )


def confirmation(channel: str, *parcels: Parcel, whole: bool = True, first: bool = True):
    return ShipConfirmation(
        shop=shop(channel),
        channel_order_no="2231958349",
        parcels=parcels,
        whole_order=whole,
        idempotency_key="ship-42-7",
        first_for_order=first,
        tracking_url="https://example.test/t/YT0000000000000",
    )


YTO = Parcel("yuantong", "YT0000000000000", (ShippedLine("2231958350", "TEA-1", 1),))
SF = Parcel("shunfeng", "SF1234567890123", (ShippedLine("2231958351", "TEA-2", 2),))


def test_taobao_whole_order_is_one_offline_send_signed_with_top_md5():
    params = taobao.build_offline_send(confirmation("taobao", YTO), YTO, taobao.CARRIERS, now=NOW)
    assert params["method"] == "taobao.logistics.offline.send"
    assert (params["tid"], params["out_sid"], params["company_code"]) == (
        "2231958349",
        "YT0000000000000",
        "YTO",
    )
    assert "is_split" not in params and params["timestamp"] == "2026-12-01 10:03:04"
    base = "".join(k + v for k, v in sorted(params.items()) if k != "sign" and v)
    expected = (
        hashlib.md5(f"app-secret{base}app-secret".encode(), usedforsecurity=False)
        .hexdigest()
        .upper()
    )
    assert params["sign"] == expected
    assert sig.verify_top_signature(params, "app-secret")


def test_taobao_split_parcel_names_its_sub_orders_as_the_reference_example():
    split = confirmation("taobao", YTO, SF, whole=False)
    params = taobao.build_offline_send(split, YTO, taobao.CARRIERS, now=NOW)
    assert (params["is_split"], params["sub_tid"]) == ("1", "2231958350")


def test_taobao_split_parcel_without_oids_is_refused_before_any_call():
    bare = Parcel("yuantong", "YT1", (ShippedLine(None, "TEA-1", 1),))
    with pytest.raises(ConfirmationRefused) as refused:
        taobao.build_offline_send(confirmation("taobao", bare, whole=False), bare, taobao.CARRIERS)
    assert refused.value.code == "no_line_ids"


def test_taobao_answers_success_refusal_and_flow_control():
    ok = {"logistics_offline_send_response": {"shipping": {"is_success": True}}}
    assert taobao.parse_offline_send(ok).already_shipped is False
    error = {"code": 50, "msg": "Remote service error", "sub_code": "isv.invalid-parameter"}
    with pytest.raises(ConfirmationRefused) as refused:
        taobao.parse_offline_send({"error_response": error | {"sub_msg": "非法参数"}})
    assert (refused.value.code, refused.value.message) == ("isv.invalid-parameter", "非法参数")
    with pytest.raises(ChannelUnavailable):
        taobao.parse_offline_send({"error_response": {"code": 7, "msg": "App Call Limited"}})
    with pytest.raises(ChannelUnavailable):
        busy = {"code": 15, "sub_code": "isp.top-remote-connection-timeout"}
        taobao.parse_offline_send({"error_response": busy})


def test_an_unknown_carrier_is_never_guessed():
    odd = Parcel("xiaoma", "XM1", YTO.lines)
    with pytest.raises(CarrierNotMapped) as refused:
        taobao.build_offline_send(confirmation("taobao", odd), odd, taobao.CARRIERS)
    assert refused.value.code == "carrier_not_mapped" and "xiaoma" in refused.value.message


def test_pinduoduo_first_parcel_is_a_first_delivery_and_signed_as_pdd_signs():
    params = pinduoduo.build_online_send(
        confirmation("pinduoduo", YTO), pinduoduo.CARRIERS, now=NOW
    )
    assert params["type"] == "pdd.logistics.online.send"
    assert (params["order_sn"], params["tracking_number"], params["redelivery_type"]) == (
        "2231958349",
        "YT0000000000000",
        "1",
    )
    assert params["timestamp"] == str(int(NOW.timestamp()))
    assert sig.verify_pdd_signature(params, "app-secret")
    again = pinduoduo.build_online_send(
        confirmation("pinduoduo", YTO, first=False), {"yuantong": "85"}
    )
    assert again["redelivery_type"] == "2"


def test_pinduoduo_answers():
    assert pinduoduo.parse_online_send({"logistics_online_send_response": {"is_success": True}})
    body = {"error_response": {"error_code": 20004, "error_msg": "物流公司不存在"}}
    with pytest.raises(ConfirmationRefused) as refused:
        pinduoduo.parse_online_send(body)
    assert refused.value.message == "物流公司不存在"


def test_jd_sends_several_parcels_in_one_shipment_call():
    two_sf = Parcel("shunfeng", "SF2", SF.lines)
    params = jd.build_order_shipment(
        confirmation("jd", YTO, SF, two_sf, whole=False), jd.CARRIERS, now=NOW
    )
    business = json.loads(params["360buy_param_json"])
    assert business == {
        "orderId": "2231958349",
        "logiCoprId": "463|467",
        "logiNo": "YT0000000000000|SF1234567890123,SF2",
    }
    assert params["method"] == "jingdong.pop.order.shipment"
    assert params["timestamp"] == "2026-12-01 10:03:04.000+0800"
    assert sig.verify_jd_signature(params, "app-secret")


def test_jd_answers():
    key = "jingdong_pop_order_shipment_responce"
    assert jd.parse_order_shipment({key: {"sopjosshipment_result": {"success": True}}})
    result = {"success": False, "errorCode": "10400001", "chineseErrCode": "订单已出库"}
    with pytest.raises(ConfirmationRefused) as refused:
        jd.parse_order_shipment({key: {"sopjosshipment_result": result}})
    assert (refused.value.code, refused.value.message) == ("10400001", "订单已出库")


def test_douyin_whole_order_uses_logistics_add():
    path, params = douyin.build_request(confirmation("douyin", YTO), douyin.CARRIERS, now=NOW)
    assert path == "/order/logisticsAdd"
    assert json.loads(params["param_json"]) == {
        "order_id": "2231958349",
        "company_code": "yuantong",
        "logistics_code": "YT0000000000000",
    }
    assert sig.verify_douyin_signature(params, "app-secret")


def test_douyin_several_parcels_reproduce_the_reference_multi_pack_example():
    yto = Parcel("yuantong", "YT0000000000001", (ShippedLine("4987654322", "A", 1),))
    sf = Parcel("shunfeng", "SF1234567890123", (ShippedLine("4987654323", "B", 2),))
    order = ShipConfirmation(shop("douyin"), "4987654321A", (yto, sf), False, "ship-42-v1")
    path, params = douyin.build_request(order, douyin.CARRIERS, now=NOW)
    assert path == "/order/logisticsAddMultiPack"
    example = (
        '{"order_id":"4987654321A","pack_list":[{"company_code":"yuantong","logistics_code":'
        '"YT0000000000001","shipped_order_info":[{"shipped_order_id":"4987654322","shipped_num":'
        '1}]},{"company_code":"shunfeng","logistics_code":"SF1234567890123","shipped_order_info":'
        '[{"shipped_order_id":"4987654323","shipped_num":2}]}],"request_id":"ship-42-v1"}'
    )
    assert json.loads(params["param_json"]) == json.loads(example)
    assert params["param_json"] == sig.build_douyin_param_json(json.loads(example))


def test_douyin_answers_already_shipped_as_success_and_risk_review_as_later():
    assert douyin.parse_response({"code": 10000, "data": {"pack_list": [{"pack_id": "P1"}]}})
    shipped = {"code": 50002, "sub_code": "isv.business-failed:60110", "sub_msg": "订单已发货"}
    assert douyin.parse_response(shipped).already_shipped
    with pytest.raises(ChannelUnavailable):
        douyin.parse_response({"code": 50002, "sub_code": "isv.business-failed:60109"})
    with pytest.raises(ChannelUnavailable):
        douyin.parse_response({"code": 20000, "sub_code": "isp.service-error:10005"})
    cancelled = {"code": 50002, "sub_code": "isv.business-failed:60021", "sub_msg": "订单已取消"}
    with pytest.raises(ConfirmationRefused) as refused:
        douyin.parse_response(cancelled)
    assert (refused.value.code, refused.value.message) == ("60021", "订单已取消")


OPEN = [
    (
        "gid://shopify/FulfillmentOrder/1046000778",
        "gid://shopify/FulfillmentOrderLineItem/9",
        "gid://shopify/LineItem/2231958350",
        3,
    )
]


def test_shopify_fulfillment_names_fulfillment_order_line_items_and_tracking():
    order = confirmation("shopify", YTO)
    mutation = shopify.build_fulfillment_create(order, YTO, OPEN, shopify.CARRIERS)
    assert "fulfillmentCreate" in str(mutation["query"])
    assert mutation["variables"] == {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1046000778",
                    "fulfillmentOrderLineItems": [
                        {"id": "gid://shopify/FulfillmentOrderLineItem/9", "quantity": 1}
                    ],
                }
            ],
            "trackingInfo": {
                "company": "YTO Express",
                "number": "YT0000000000000",
                "url": "https://example.test/t/YT0000000000000",
            },
            "notifyCustomer": False,
        }
    }


def test_shopify_line_with_nothing_left_is_refused():
    many = Parcel("yuantong", "YT9", (ShippedLine("2231958350", "TEA-1", 4),))
    with pytest.raises(ConfirmationRefused):
        shopify.build_fulfillment_create(confirmation("shopify", many), many, OPEN, {})


def test_shopify_answers_the_reference_example_and_user_errors():
    example = {
        "data": {
            "fulfillmentCreate": {
                "fulfillment": {"id": "gid://shopify/Fulfillment/255858046", "status": "SUCCESS"},
                "userErrors": [],
            }
        }
    }
    assert shopify.parse_fulfillment_create(example).reference.endswith("255858046")
    refused = {"data": {"fulfillmentCreate": {"userErrors": [{"message": "Invalid"}]}}}
    with pytest.raises(ConfirmationRefused) as error:
        shopify.parse_fulfillment_create(refused)
    assert error.value.message == "Invalid"
    with pytest.raises(ChannelUnavailable):
        shopify.parse_fulfillment_create({"errors": [{"extensions": {"code": "THROTTLED"}}]})


def test_carrier_overrides_lay_over_the_built_in_tables():
    overrides = parse_carrier_overrides("pinduoduo:zhongtong=999, taobao:jtexpress=JTSD, bad")
    tables = merge_carriers({"pinduoduo": pinduoduo.CARRIERS, "taobao": taobao.CARRIERS}, overrides)
    assert tables["pinduoduo"]["zhongtong"] == "999"
    assert tables["pinduoduo"]["yunda"] == "121"
    assert tables["taobao"]["jtexpress"] == "JTSD"
