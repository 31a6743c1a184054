"""SF Express's pure functions: msgDigest vector, push verification, opCodes, recorded payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from backend.logistics.carriers import sf
from backend.logistics.carriers.base import CarrierRejected, CarrierUnavailable, MalformedPayload
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent, dedupe_key, fold_status
from tests.backend.logistics.live_servers import payload

T = TrackingStatus
VECTOR = ('{"language":"zh-CN","orderId":"QIAO-20200618-004"}', "12312334453453")
CHECK_WORD = "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_msg_digest_reproduces_the_official_vector():
    assert sf.compute_msg_digest(*VECTOR, CHECK_WORD) == "IIKJtuLVzoFTu4kHI8M8vA=="


def test_msg_digest_is_not_the_one_you_get_without_url_encoding():
    assert sf.compute_msg_digest(*VECTOR, CHECK_WORD) != "OwYXm3XG9fjHK7A+/t7Ckw=="


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("a b", "a+b"),
        ("*", "*"),  # Java keeps it, quote_plus would not
        ("~", "%7E"),  # Java escapes it, quote_plus would not
        ("顺丰", "%E9%A1%BA%E4%B8%B0"),
        ('{"a":1}', "%7B%22a%22%3A1%7D"),
        ("-_.", "-_."),
    ],
)
def test_url_encoding_follows_java_url_encoder(text, encoded):
    assert sf.java_url_encode(text) == encoded


@pytest.mark.parametrize(
    ("msg_data", "timestamp", "digest", "valid"),
    [
        (*VECTOR, "IIKJtuLVzoFTu4kHI8M8vA==", True),
        (*VECTOR, " IIKJtuLVzoFTu4kHI8M8vA== ", True),
        (VECTOR[0] + " ", VECTOR[1], "IIKJtuLVzoFTu4kHI8M8vA==", False),
        (VECTOR[0], "12312334453454", "IIKJtuLVzoFTu4kHI8M8vA==", False),
        (*VECTOR, "OwYXm3XG9fjHK7A+/t7Ckw==", False),
        (*VECTOR, "", False),
        (*VECTOR, "签名", False),
    ],
)
def test_push_digest_verification(msg_data, timestamp, digest, valid):
    assert sf.verify_push(msg_data, timestamp, digest, CHECK_WORD) is valid


@pytest.mark.parametrize(
    ("presented", "expected", "valid"),
    [
        ("tok-123", "tok-123", True),
        ("tok-124", "tok-123", False),
        ("", "", False),
        ("令牌", "x", False),
    ],
)
def test_push_token_verification(presented, expected, valid):
    assert sf.verify_push_token(presented, expected) is valid


# docs/protocols.md, "SF Express / Route opCodes", written out independently of the adapter.
OP_CODES = [
    ("50", T.PICKED_UP),
    ("54", T.PICKED_UP),
    ("30", T.IN_TRANSIT),
    ("31", T.IN_TRANSIT),
    ("36", T.IN_TRANSIT),
    ("105", T.IN_TRANSIT),
    ("106", T.IN_TRANSIT),
    ("44", T.OUT_FOR_DELIVERY),
    ("204", T.OUT_FOR_DELIVERY),
    ("80", T.DELIVERED),
    ("8000", T.DELIVERED),
    ("130", T.AVAILABLE_FOR_PICKUP),
    ("607", T.AVAILABLE_FOR_PICKUP),
    ("605", T.CUSTOMS),
    ("310", T.CUSTOMS),
    ("631", T.RETURNING),
    ("648", T.RETURNING),
]
UNCONFIRMED = ["70", "99", "123", "407", "501", "9999"]


@pytest.mark.parametrize(("op_code", "expected"), OP_CODES)
def test_default_op_codes_follow_the_documented_table(op_code, expected):
    assert sf.DEFAULT_OP_CODES[op_code] is expected


@pytest.mark.parametrize("op_code", UNCONFIRMED)
def test_conflicting_or_unconfirmed_op_codes_are_left_unmapped(op_code):
    assert op_code not in sf.DEFAULT_OP_CODES


def test_op_code_overrides_are_laid_over_the_default_without_changing_it():
    table = sf.build_op_code_table(
        {"70": "failed_attempt", "80": T.DELIVERED, " 99 ": T.IN_TRANSIT}
    )
    assert table["70"] is T.FAILED_ATTEMPT and table["99"] is T.IN_TRANSIT
    assert table["50"] is T.PICKED_UP
    assert "70" not in sf.DEFAULT_OP_CODES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("70=failed_attempt", {"70": T.FAILED_ATTEMPT}),
        (" 70 = failed_attempt , 99=in_transit,", {"70": T.FAILED_ATTEMPT, "99": T.IN_TRANSIT}),
    ],
)
def test_op_code_overrides_read_from_a_setting(text, expected):
    assert sf.parse_op_code_overrides(text) == expected


@pytest.mark.parametrize("text", ["70", "=delivered", "70=teleported"])
def test_a_bad_op_code_override_is_refused(text):
    with pytest.raises(ValueError):
        sf.parse_op_code_overrides(text)


def test_a_single_route_push_is_one_incremental_pickup_event():
    [parsed] = sf.parse_route_push(payload("sf_push_single.json"))
    assert parsed.events == [
        CarrierEvent(utc(2024, 5, 2, 2, 0), T.PICKED_UP, "顺丰速运 已收取快件", "50", "深圳市")
    ]
    assert (parsed.carrier_code, parsed.tracking_no, parsed.source) == (
        "shunfeng",
        "SF1234567890123",
        "sf",
    )
    assert not parsed.full_history
    assert parsed.order_reference == "ORD20240502001"


def test_a_push_with_two_waybills_is_split_per_waybill():
    first, second = sf.parse_route_push(payload("sf_push_batch.json").encode())
    assert first.tracking_no == "SF1234567890123"
    assert first.events == [
        CarrierEvent(
            utc(2024, 5, 2, 4, 0),
            T.IN_TRANSIT,
            "快件在【深圳宝安集散中心】完成分拣，准备发往【杭州转运中心】",
            "30",
            "深圳市",
        ),
        CarrierEvent(
            utc(2024, 5, 2, 5, 0),
            T.IN_TRANSIT,
            "快件已从【深圳宝安集散中心】发出，发往【杭州转运中心】",
            "36",
            "深圳市",
        ),
    ]
    assert (second.tracking_no, second.order_reference) == ("SF9876543210987", "ORD20240502001-R")
    assert second.events == [
        CarrierEvent(utc(2024, 5, 2, 4, 30), T.PICKED_UP, "顺丰速运 已收取快件", "54", "杭州市")
    ]


def test_unknown_op_codes_stay_unknown_with_the_raw_code_unless_overridden():
    [parsed] = sf.parse_route_push(payload("sf_push_unknown_opcode.json"))
    assert parsed.events == [
        CarrierEvent(
            utc(2024, 5, 3, 1, 0), T.UNKNOWN, "快件派送不成功，待再次派送", "70", "杭州市"
        ),
        CarrierEvent(utc(2024, 5, 3, 2, 0), T.UNKNOWN, "快件路由更新", "9999", "杭州市"),
        CarrierEvent(utc(2024, 5, 3, 3, 0), T.UNKNOWN, "", None, None),
    ]
    table = sf.build_op_code_table({"70": T.FAILED_ATTEMPT})
    [overridden] = sf.parse_route_push(payload("sf_push_unknown_opcode.json"), table)
    assert overridden.events[0].status is T.FAILED_ATTEMPT
    assert overridden.events[1].status is T.UNKNOWN


def test_out_of_order_items_are_kept_as_sent_and_fold_by_time():
    [parsed] = sf.parse_route_push(payload("sf_push_out_of_order.json"))
    assert parsed.events == [
        CarrierEvent(
            utc(2024, 5, 3, 7, 20),
            T.DELIVERED,
            "已签收，感谢使用顺丰，期待再次为您服务",
            "80",
            "杭州市",
        ),
        CarrierEvent(
            utc(2024, 5, 3, 1, 10),
            T.OUT_FOR_DELIVERY,
            "快件交给王师傅，正在派送途中（联系电话：95338）",
            "44",
            "杭州市",
        ),
    ]
    assert fold_status(parsed.events) is T.DELIVERED


def test_a_duplicated_item_parses_twice_to_one_dedupe_key():
    [parsed] = sf.parse_route_push(payload("sf_push_duplicate.json"))
    first, second = parsed.events
    assert first == second
    assert dedupe_key("shunfeng", parsed.tracking_no, first) == dedupe_key(
        "shunfeng", parsed.tracking_no, second
    )


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        "{}",
        '{"Body":{"WaybillRoute":"x"}}',
        '{"Body":{"WaybillRoute":[{"acceptTime":"2024-05-02 10:00:00"}]}}',
        '{"Body":{"WaybillRoute":[{"mailno":"SF1","acceptTime":"yesterday"}]}}',
    ],
)
def test_a_malformed_push_is_reported(body):
    with pytest.raises(MalformedPayload):
        sf.parse_route_push(body)


def test_route_query_request_is_signed_over_the_exact_msg_data():
    form = sf.build_route_query_request(
        "TESTPARTNER",
        CHECK_WORD,
        ["SF1234567890123"],
        timestamp_ms=1714600000000,
        request_id="REQ-1",
        check_phone_no="13800138000",
    )
    assert form["msgData"] == (
        '{"language":"0","trackingType":"1","trackingNumber":["SF1234567890123"],'
        '"methodType":"1","checkPhoneNo":"8000"}'
    )
    assert form["serviceCode"] == "EXP_RECE_SEARCH_ROUTES"
    assert (form["partnerID"], form["requestID"], form["timestamp"]) == (
        "TESTPARTNER",
        "REQ-1",
        "1714600000000",
    )
    assert form["msgDigest"] == sf.compute_msg_digest(form["msgData"], "1714600000000", CHECK_WORD)


def test_route_query_answer_is_a_full_history_per_waybill():
    found, empty = sf.parse_route_query_response(json.loads(payload("sf_route_query_success.json")))
    assert found.events == [
        CarrierEvent(utc(2024, 5, 2, 2, 0), T.PICKED_UP, "顺丰速运 已收取快件", "50", "深圳市"),
        CarrierEvent(
            utc(2024, 5, 2, 4, 0),
            T.IN_TRANSIT,
            "快件在【深圳宝安集散中心】完成分拣，准备发往【杭州转运中心】",
            "30",
            "深圳市",
        ),
        CarrierEvent(
            utc(2024, 5, 2, 18, 15), T.IN_TRANSIT, "快件到达【杭州转运中心】", "31", "杭州市"
        ),
    ]
    assert found.full_history and found.tracking_no == "SF1234567890123"
    assert empty.events == [] and not empty.full_history


@pytest.mark.parametrize(
    ("fixture", "error", "code"),
    [
        ("sf_route_query_bad_digest.json", CarrierRejected, "A1006"),
        ("sf_route_query_throttled.json", CarrierUnavailable, None),
        ("sf_route_query_business_error.json", CarrierRejected, "S0001"),
    ],
)
def test_route_query_refusals_are_classified(fixture, error, code):
    with pytest.raises(error) as raised:
        sf.parse_route_query_response(json.loads(payload(fixture)))
    if code is not None:
        assert raised.value.code == code


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("A1001", CarrierRejected),
        ("A1002", CarrierRejected),
        ("A1004", CarrierRejected),
        ("A1007", CarrierRejected),
        ("A1005", CarrierUnavailable),
        ("A1009", CarrierUnavailable),
        ("A1099", CarrierUnavailable),
        ("A7777", CarrierRejected),
    ],
)
def test_gateway_codes_are_classified(code, error):
    with pytest.raises(error):
        sf.parse_route_query_response({"apiResultCode": code, "apiErrorMsg": "x"})
