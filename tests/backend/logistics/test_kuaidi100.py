"""Kuaidi100's pure functions: signatures, request forms, state codes, recorded payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from backend.logistics.carriers import kuaidi100
from backend.logistics.carriers.base import (
    CarrierRejected,
    CarrierUnavailable,
    MalformedPayload,
    Recipient,
)
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent, dedupe_key, fold_status
from tests.backend.logistics.live_servers import payload

T = TrackingStatus


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# Straight from docs/protocols.md, "Kuaidi100 / State codes", not from the adapter's table.
STATE_CODES = [
    ("0", T.IN_TRANSIT),
    ("1001", T.IN_TRANSIT),
    ("1002", T.IN_TRANSIT),
    ("1003", T.IN_TRANSIT),
    ("7", T.IN_TRANSIT),
    ("1", T.PICKED_UP),
    ("101", T.INFO_RECEIVED),
    ("102", T.INFO_RECEIVED),
    ("103", T.PICKED_UP),
    ("5", T.OUT_FOR_DELIVERY),
    ("501", T.AVAILABLE_FOR_PICKUP),
    ("3", T.DELIVERED),
    ("301", T.DELIVERED),
    ("302", T.DELIVERED),
    ("303", T.DELIVERED),
    ("304", T.DELIVERED),
    ("6", T.RETURNING),
    ("4", T.RETURNED),
    ("401", T.CANCELLED),
    ("14", T.EXCEPTION),
    ("2", T.EXCEPTION),
    ("201", T.EXCEPTION),
    ("202", T.EXCEPTION),
    ("203", T.EXCEPTION),
    ("204", T.FAILED_ATTEMPT),
    ("205", T.EXCEPTION),
    ("206", T.FAILED_ATTEMPT),
    ("207", T.EXCEPTION),
    ("208", T.EXCEPTION),
    ("209", T.EXCEPTION),
    ("210", T.CANCELLED),
    ("8", T.CUSTOMS),
    ("10", T.CUSTOMS),
    ("11", T.CUSTOMS),
    ("12", T.CUSTOMS),
    ("13", T.EXCEPTION),
]


@pytest.mark.parametrize(("code", "expected"), STATE_CODES)
def test_every_documented_state_code_maps_to_its_canonical_status(code, expected):
    assert kuaidi100.normalize_state(code) is expected


def test_the_adapter_maps_exactly_the_documented_codes():
    assert set(kuaidi100.STATES) == {code for code, _ in STATE_CODES}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (5, T.OUT_FOR_DELIVERY),  # the doc says Integer, the SDK says String
        (" 3 ", T.DELIVERED),
        ("投柜或驿站", T.AVAILABLE_FOR_PICKUP),  # resultv2=1: names only
        ("9", T.UNKNOWN),
        ("1099", T.UNKNOWN),
        ("", T.UNKNOWN),
        (None, T.UNKNOWN),
    ],
)
def test_state_codes_are_read_tolerantly_and_unknown_ones_are_not_guessed(raw, expected):
    assert kuaidi100.normalize_state(raw) is expected


def test_query_request_reproduces_the_documented_sign():
    form = kuaidi100.build_query_request("TESTCUSTOMER", "TESTKEY", "yuantong", "YT0000000000000")
    assert form == {
        "customer": "TESTCUSTOMER",
        "param": '{"com":"yuantong","num":"YT0000000000000","resultv2":"4"}',
        "sign": "808505D2DC857B432AF80CDC6F20F05A",
    }


def test_query_request_carries_the_phone_shunfeng_requires():
    form = kuaidi100.build_query_request("C", "K", "shunfeng", "SF1234567890123", phone="1234")
    assert json.loads(form["param"]) == {
        "com": "shunfeng",
        "num": "SF1234567890123",
        "phone": "1234",
        "resultv2": "4",
    }


def test_subscribe_request_matches_the_documented_example():
    form = kuaidi100.build_subscribe_request(
        "TESTKEY",
        "shunfeng",
        "SF1234567890123",
        "https://portal.example.com/hooks/kuaidi100?shipment=42",
        "s3cr3tSalt",
        "4",
        "1234",
        "浙江省杭州市西湖区",
    )
    assert form == {
        "schema": "json",
        "param": '{"company":"shunfeng","number":"SF1234567890123","to":"浙江省杭州市西湖区",'
        '"key":"TESTKEY","parameters":{"callbackurl":'
        '"https://portal.example.com/hooks/kuaidi100?shipment=42","salt":"s3cr3tSalt",'
        '"resultv2":"4","phone":"1234"}}',
    }
    assert "sign" not in form


@pytest.mark.parametrize(
    ("fixture", "salt", "sign"),
    [
        ("kuaidi100_push_station.json", "s3cr3tSalt", "EF4F7A711217EE7D870CE1EEAC229CD3"),
        ("kuaidi100_push_signed.json", "TESTSALT", "6267FF08140112C2CEC405851233A6BD"),
    ],
)
def test_push_signature_vectors_verify_in_either_hex_case(fixture, salt, sign):
    param = payload(fixture)
    assert kuaidi100.verify_push_signature(param, sign, salt)
    assert kuaidi100.verify_push_signature(param, sign.lower(), salt)


@pytest.mark.parametrize(
    ("param_change", "salt", "sign"),
    [
        (lambda p: p.replace("XX驿站", "YY驿站"), "s3cr3tSalt", "EF4F7A711217EE7D870CE1EEAC229CD3"),
        (lambda p: p, "wrong-salt", "EF4F7A711217EE7D870CE1EEAC229CD3"),
        (lambda p: p, "s3cr3tSalt", ""),
        (lambda p: p, "s3cr3tSalt", "签名签名"),
        (lambda p: p + " ", "s3cr3tSalt", "EF4F7A711217EE7D870CE1EEAC229CD3"),
    ],
)
def test_a_push_with_a_bad_signature_is_refused(param_change, salt, sign):
    param = param_change(payload("kuaidi100_push_station.json"))
    assert not kuaidi100.verify_push_signature(param, sign, salt)


def test_query_answer_parses_to_the_full_history_newest_first():
    parsed = kuaidi100.parse_query_response(
        json.loads(payload("kuaidi100_query_success.json")), "yuantong", "YT0000000000000"
    )
    assert parsed.events == [
        CarrierEvent(
            utc(2024, 5, 2, 0, 10), T.OUT_FOR_DELIVERY, "【杭州市】快件派送中", "5", "杭州市"
        ),
        CarrierEvent(
            utc(2024, 5, 1, 14, 40),
            T.IN_TRANSIT,
            "【杭州市】快件已到达【杭州转运中心】",
            "1001",
            "浙江,杭州市",  # empty `location`, so the parsed 行政区 is used
        ),
        CarrierEvent(
            utc(2024, 5, 1, 1, 5),
            T.IN_TRANSIT,
            "【深圳市】快件已从【深圳转运中心】发出，下一站【杭州转运中心】",
            "1002",
            "深圳市",
        ),
        CarrierEvent(
            utc(2024, 4, 30, 10, 20),
            T.PICKED_UP,
            "【深圳市南山区营业部】快递员已揽收",
            "103",
            "深圳市",
        ),
    ]
    assert (parsed.carrier_code, parsed.tracking_no, parsed.source) == (
        "yuantong",
        "YT0000000000000",
        "kuaidi100",
    )
    assert parsed.full_history and not parsed.is_signed
    assert (parsed.raw_state, parsed.state) == ("5", T.OUT_FOR_DELIVERY)


def test_no_result_yet_is_an_empty_incremental_update_that_drops_nothing():
    parsed = kuaidi100.parse_query_response(
        json.loads(payload("kuaidi100_query_no_result.json")), "yuantong", "YT0000000000000"
    )
    assert parsed.events == [] and not parsed.full_history
    assert parsed.tracking_no == "YT0000000000000"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("400", CarrierRejected),
        ("501", CarrierUnavailable),
        ("502", CarrierUnavailable),
        ("503", CarrierRejected),  # bad signature: a business code, not HTTP 503
        ("601", CarrierRejected),
        ("777", CarrierRejected),
    ],
)
def test_query_refusals_are_classified_by_return_code(code, error):
    with pytest.raises(error) as raised:
        kuaidi100.parse_query_response(
            {"result": False, "returnCode": code, "message": "x"}, "yuantong", "YT1"
        )
    if error is CarrierRejected:
        assert raised.value.code == code


@pytest.mark.parametrize(
    ("body", "created"),
    [
        ({"result": True, "returnCode": "200", "message": "提交成功"}, True),
        ({"result": False, "returnCode": "501", "message": "重复订阅"}, False),
    ],
)
def test_subscribe_answers_accepted_and_already_subscribed(body, created):
    assert kuaidi100.parse_subscribe_response(body) is created


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("500", CarrierUnavailable),
        ("600", CarrierRejected),
        ("601", CarrierRejected),
        ("700", CarrierRejected),
        ("701", CarrierRejected),
        ("702", CarrierRejected),
        ("888", CarrierRejected),
    ],
)
def test_subscribe_refusals_are_classified_by_return_code(code, error):
    with pytest.raises(error):
        kuaidi100.parse_subscribe_response({"result": False, "returnCode": code, "message": "x"})


def test_the_documented_example_push_parses_to_a_pickup_point_event():
    parsed = kuaidi100.parse_push(payload("kuaidi100_push_station.json"))
    assert parsed.events == [
        CarrierEvent(
            utc(2024, 5, 2, 2, 0),
            T.AVAILABLE_FOR_PICKUP,
            "快件已被【XX驿站】代收",
            "501",
            "浙江,杭州市,西湖区",
        )
    ]
    assert (parsed.carrier_code, parsed.tracking_no) == ("yuantong", "YT0000000000000")
    assert parsed.monitor_status == "polling" and parsed.full_history
    assert (parsed.raw_state, parsed.state) == ("501", T.AVAILABLE_FOR_PICKUP)


SIGNED_EVENTS = [
    CarrierEvent(
        utc(2024, 5, 3, 3, 32, 15),
        T.DELIVERED,
        "【杭州市西湖区】已签收，签收人：本人，感谢使用",
        "301",
        "浙江,杭州市,西湖区",
    ),
    CarrierEvent(
        utc(2024, 5, 3, 1, 2),
        T.OUT_FOR_DELIVERY,
        "【杭州市西湖区】快递员王师傅（电话 138****1234）正在为您派件",
        "5",
        "浙江,杭州市,西湖区",
    ),
    CarrierEvent(
        utc(2024, 5, 2, 17, 10),
        T.IN_TRANSIT,
        "【杭州市】快件已到达【杭州转运中心】",
        "1001",
        "杭州市",
    ),
    CarrierEvent(
        utc(2024, 5, 2, 6, 45), T.PICKED_UP, "【深圳市南山区营业部】快递员已揽收", "103", "深圳市"
    ),
]


def test_a_signed_parcel_push_ends_monitoring_and_carries_the_full_history():
    parsed = kuaidi100.parse_push(payload("kuaidi100_push_signed.json"))
    assert parsed.events == SIGNED_EVENTS
    assert parsed.is_signed and parsed.monitor_status == "shutdown"
    assert (parsed.raw_state, parsed.state) == ("301", T.DELIVERED)
    assert fold_status(parsed.events) is T.DELIVERED


def test_an_older_push_arriving_late_is_a_strict_subset_of_the_newer_one():
    newer = kuaidi100.parse_push(payload("kuaidi100_push_signed.json"))
    older = kuaidi100.parse_push(payload("kuaidi100_push_older.json"))
    assert older.events == SIGNED_EVENTS[1:]
    assert older.full_history and older.state is T.OUT_FOR_DELIVERY
    keys = {dedupe_key(newer.carrier_code, newer.tracking_no, e) for e in newer.events}
    assert {dedupe_key(older.carrier_code, older.tracking_no, e) for e in older.events} < keys


def test_the_same_push_twice_parses_to_the_same_events_and_keys():
    first = kuaidi100.parse_push(payload("kuaidi100_push_signed.json"))
    again = kuaidi100.parse_push(payload("kuaidi100_push_signed.json"))
    assert first == again
    assert [dedupe_key("zhongtong", "ZT7500000000001", e) for e in first.events] == [
        dedupe_key("zhongtong", "ZT7500000000001", e) for e in again.events
    ]


def test_a_refused_parcel_on_its_way_back_parses_every_problem_state():
    parsed = kuaidi100.parse_push(payload("kuaidi100_push_returned.json"))
    assert parsed.events == [
        CarrierEvent(
            utc(2024, 5, 9, 8, 0), T.RETURNED, "【深圳市南山区】退回件已签收，签收人：寄件人", "4"
        ),
        CarrierEvent(
            utc(2024, 5, 6, 0, 30),
            T.RETURNING,
            "【杭州市】快件退回中，发往【深圳转运中心】",
            "6",
            "杭州市",
        ),
        CarrierEvent(
            utc(2024, 5, 5, 11, 12), T.EXCEPTION, "【杭州市西湖区】收件人拒签，原因：不想要了", "14"
        ),
        CarrierEvent(
            utc(2024, 5, 5, 2, 40),
            T.FAILED_ATTEMPT,
            "【杭州市西湖区】快递员联系收件人未果，明日再派",
            "206",
        ),
    ]
    assert fold_status(parsed.events) is T.RETURNED


def test_an_unknown_code_becomes_unknown_and_keeps_the_raw_code():
    parsed = kuaidi100.parse_push(payload("kuaidi100_push_unknown_code.json"))
    assert parsed.events == [
        CarrierEvent(utc(2024, 5, 4, 4, 0), T.UNKNOWN, "【杭州市】快件状态更新", "1099", "杭州市"),
        CarrierEvent(
            utc(2024, 5, 4, 0, 0),
            T.IN_TRANSIT,
            "【杭州市】快件已到达【杭州转运中心】",
            "0",
            "杭州市",
        ),
    ]
    assert (parsed.raw_state, parsed.state) == ("1099", T.UNKNOWN)
    assert fold_status(parsed.events) is T.IN_TRANSIT


def test_items_without_codes_are_mapped_by_name_or_left_unknown():
    parsed = kuaidi100.parse_push(payload("kuaidi100_push_names_only.json"))
    assert parsed.events == [
        CarrierEvent(
            utc(2024, 5, 4, 4, 0), T.OUT_FOR_DELIVERY, "【杭州市】快件派送中", "派件", "杭州市"
        ),
        CarrierEvent(
            utc(2024, 5, 4, 0, 0), T.UNKNOWN, "【杭州市】快件状态更新", "某种新状态", "杭州市"
        ),
        CarrierEvent(utc(2024, 5, 3, 12, 0), T.UNKNOWN, "【深圳市】快件已发出", None, "深圳市"),
    ]


def test_an_abort_push_asks_for_a_new_subscription_and_drops_nothing():
    parsed = kuaidi100.parse_push(payload("kuaidi100_push_abort.json"))
    assert parsed.events == [] and not parsed.full_history
    assert parsed.needs_resubscribe and parsed.monitor_message == "3天查询无记录"
    assert (parsed.carrier_code, parsed.tracking_no) == ("zhongtong", "ZT7500000000002")
    assert parsed.state is None


def test_a_corrected_company_keeps_the_code_we_subscribed_with():
    parsed = kuaidi100.parse_push(payload("kuaidi100_push_corrected_company.json"))
    assert (parsed.carrier_code, parsed.corrected_carrier_code) == ("yunda", "yuantong")
    assert parsed.events == [
        CarrierEvent(utc(2024, 5, 1, 1, 0), T.PICKED_UP, "【深圳市】已揽收", "1", "深圳市")
    ]


@pytest.mark.parametrize(
    "param",
    [
        payload("kuaidi100_push_bad_time.json"),
        payload("kuaidi100_push_no_last_result.json"),
        "not json",
        "[1, 2]",
        '{"status":"polling","lastResult":{"nu":"YT1","com":"yuantong","data":"x"}}',
        '{"status":"polling","lastResult":{"com":"yuantong","data":[]}}',
    ],
)
def test_a_malformed_push_is_reported_not_half_parsed(param):
    with pytest.raises(MalformedPayload):
        kuaidi100.parse_push(param)


def test_intercept_request_asks_for_modify_addr_with_the_print_sign():
    form = kuaidi100.build_intercept_request(
        "TESTKEY",
        "TESTSECRET",
        "yuantong",
        "YT0000000000000",
        Recipient("李四", "13900139000", "浙江省杭州市西湖区文三路200号"),
        callback_url="https://portal.example.com/hooks/kuaidi100/intercept",
        timestamp_ms=1714600000000,
        reason="客户改地址",
        order_id="T000042",
        account={"partnerId": "P001"},
    )
    assert form == {
        "method": "interceptOrder",
        "key": "TESTKEY",
        "t": "1714600000000",
        "param": '{"kuaidicom":"yuantong","kuaidinum":"YT0000000000000","partnerId":"P001",'
        '"interceptType":"MODIFY_ADDR","recManInfo":{"name":"李四","mobile":"13900139000",'
        '"printAddr":"浙江省杭州市西湖区文三路200号","company":""},"reason":"客户改地址",'
        '"orderId":"T000042","callbackUrl":"https://portal.example.com/hooks/kuaidi100/intercept"}',
        # UPPER(MD5(param + t + key + secret)), computed with md5sum
        "sign": "3077DC7512733376C1E6AD37CF2FCB70",
    }


def test_intercept_answers_are_accepted_refused_or_retryable():
    receipt = kuaidi100.parse_intercept_response(
        {"success": True, "code": 200, "message": "success", "data": {"taskId": "abc"}},
        "yuantong",
        "YT1",
    )
    assert (receipt.tracking_no, receipt.reference) == ("YT1", "abc")
    with pytest.raises(CarrierRejected):
        kuaidi100.parse_intercept_response({"success": False, "code": "400"}, "yuantong", "YT1")
    with pytest.raises(CarrierUnavailable):
        kuaidi100.parse_intercept_response({"success": False, "code": "500"}, "yuantong", "YT1")


def test_a_return_intercept_asks_for_return_send_addr_without_a_recipient():
    form = kuaidi100.build_return_intercept_request(
        "TESTKEY",
        "TESTSECRET",
        "yuantong",
        "YT0000000000000",
        callback_url="https://portal.example.com/hooks/kuaidi100/intercept",
        timestamp_ms=1714600000000,
        reason="仅退款 拦截退回",
        order_id="T000042",
        account={"partnerId": "P001"},
    )
    assert form == {
        "method": "interceptOrder",
        "key": "TESTKEY",
        "t": "1714600000000",
        "param": '{"kuaidicom":"yuantong","kuaidinum":"YT0000000000000","partnerId":"P001",'
        '"interceptType":"RETURN_SEND_ADDR","reason":"仅退款 拦截退回","orderId":"T000042",'
        '"callbackUrl":"https://portal.example.com/hooks/kuaidi100/intercept"}',
        # UPPER(MD5(param + t + key + secret)), computed with Python's hashlib
        "sign": "0D3065312E3A9AE5F636DB996B3C85C8",
    }
