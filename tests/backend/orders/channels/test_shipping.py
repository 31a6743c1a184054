"""Reading shipped parcels out of channel order payloads, and the carrier tables behind them."""

from __future__ import annotations

import pytest

from backend.logistics.carriers.names import CARRIER_NAMES, find_carrier_code
from backend.orders.channels import shipping
from backend.orders.channels.canonical import CanonicalParcel as Parcel
from backend.orders.channels.mapping import map_order
from backend.orders.channels.shipping import read_parcels
from backend.orders.models import SalesChannel as C
from tests.backend.orders.channels.recorded import load_payload


def test_every_carrier_a_table_yields_is_one_of_ours():
    tables = [shipping._NAMES, shipping._TOP_CODES, shipping._JD_IDS, shipping._PDD_IDS]
    assert {code for table in tables for code in table.values()} <= set(CARRIER_NAMES)


@pytest.mark.parametrize(
    ("channel", "payload", "expected"),
    [
        (
            C.SHOPIFY,
            {
                "fulfillments": [
                    {
                        "tracking_company": "YTO Express",
                        "tracking_numbers": ["YT1", "YT2"],
                        "line_items": [{"variant_id": 808950810, "quantity": 2}],
                    },
                    {
                        "status": "cancelled",
                        "tracking_company": "SF Express",
                        "tracking_number": "S",
                    },
                    {"tracking_company": "Some Local Courier", "tracking_number": "LC1"},
                    "not an object",
                ]
            },
            (
                Parcel("yuantong", "YTO Express", "YT1", (("808950810", 2),)),
                Parcel(None, "Some Local Courier", "LC1"),
            ),
        ),
        (
            C.TAOBAO,
            {
                "orders": {
                    "order": [
                        {
                            "outer_sku_id": "A",
                            "num": 1,
                            "invoice_no": "YT9",
                            "logistics_company": "圆通速递",
                        },
                        {
                            "sku_id": "4567",
                            "num": 2,
                            "invoice_no": "YT9",
                            "logistics_company": "圆通速递",
                        },
                        {"outer_sku_id": "C", "num": 1},
                    ]
                }
            },
            (Parcel("yuantong", "圆通速递", "YT9", (("A", 1), ("4567", 2))),),
        ),
        (
            C.TMALL,
            {"out_sid": "SF77", "company_code": "SF", "orders": []},
            (Parcel("shunfeng", "SF", "SF77"),),
        ),
        (C.JD, {"waybill": "JDVA001", "logisticsId": 2087}, (Parcel("jd", "2087", "JDVA001"),)),
        (C.JD, {"waybill": "", "logisticsId": 2087}, ()),
        (
            C.PINDUODUO,
            {"tracking_number": "YD1", "logistics_id": 44},
            (Parcel(None, "44", "YD1"),),
        ),
        (
            C.DOUYIN,
            {
                "logistics_info": [
                    {"tracking_no": "ZT1", "company": "zhongtong", "company_name": "中通快递"},
                    {"tracking_no": "ZT1", "company": "zhongtong"},
                    {"tracking_no": "X1", "company_name": "顺丰速运"},
                ]
            },
            (Parcel("zhongtong", "zhongtong", "ZT1"), Parcel("shunfeng", "顺丰速运", "X1")),
        ),
        (C.DOUYIN, {"logistics_info": "garbage"}, ()),
        (C.MANUAL, {"tracking_number": "YD1"}, ()),
    ],
    ids=[
        "shopify",
        "taobao lines",
        "tmall trade",
        "jd",
        "jd blank",
        "pdd unknown id",
        "douyin",
        "douyin garbage",
        "manual",
    ],
)
def test_parcels_are_read_where_each_channel_puts_them(channel, payload, expected):
    assert read_parcels(channel, payload) == expected


def test_a_mapped_order_carries_its_parcels_and_an_unshipped_one_none():
    assert map_order("shopify", load_payload("shopify", "normal")).parcels == ()
    payload = load_payload("jd", "update") | {"waybill": "JDVA00123456", "logisticsId": "467"}
    assert map_order("jd", payload).parcels == (Parcel("shunfeng", "467", "JDVA00123456"),)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("顺丰", "shunfeng"),
        ("顺丰速运", "shunfeng"),
        ("shunfeng", "shunfeng"),
        (" SF Express ", "shunfeng"),
        ("中通", "zhongtong"),
        ("邮政", "youzhengguonei"),
        ("京东", "jd"),
        ("顺风", None),
        ("", None),
    ],
)
def test_staff_carrier_names_map_to_our_codes_and_a_near_miss_does_not(text, code):
    assert find_carrier_code(text) == code
