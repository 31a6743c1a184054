"""Aliyun SendSms: signature vectors, request building and response classification."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest

from backend.notifications import aliyun_sms
from backend.notifications.aliyun_sms import (
    build_send_sms_request,
    build_string_to_sign,
    canonicalize,
    compute_signature,
    normalize_phone,
    parse_send_sms_response,
    percent_encode,
    sign,
    verify_signature,
)
from backend.notifications.base import NotificationRejected, NotificationUnavailable
from emulators import aliyun_signing as emulator

# Aliyun's generic RPC example ("API 签名机制(示例)", ECS DescribeRegions, testid/testsecret):
# help.aliyun.com/document_detail/130769 and copies. Its signature is the one every RPC
# signing page shows in its sample URL.
RPC_EXAMPLE = {
    "TimeStamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
RPC_EXAMPLE_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
    "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
    "%26SignatureVersion%3D1.0%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)

# The SMS signing page's own SendSms example (help.aliyun.com/document_detail/101343, key
# testId/testSecret, GET), as transcribed in several public SDKs, reproduced exactly.
SMS_EXAMPLE = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}

SIGNERS = {
    "adapter": lambda method, params, secret: compute_signature(
        build_string_to_sign(method, params), secret
    ),
    "emulator": lambda method, params, secret: emulator.aliyun_signature(
        emulator.aliyun_string_to_sign(method, params), secret
    ),
}


def test_the_string_to_sign_matches_aliyuns_worked_example():
    assert build_string_to_sign("GET", RPC_EXAMPLE) == RPC_EXAMPLE_STRING_TO_SIGN
    assert emulator.aliyun_string_to_sign("GET", RPC_EXAMPLE) == RPC_EXAMPLE_STRING_TO_SIGN


@pytest.mark.parametrize("signer", SIGNERS.values(), ids=SIGNERS.keys())
def test_both_signers_reproduce_aliyuns_rpc_example(signer):
    assert signer("GET", RPC_EXAMPLE, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


@pytest.mark.parametrize("signer", SIGNERS.values(), ids=SIGNERS.keys())
def test_both_signers_reproduce_the_sms_pages_sendsms_example(signer):
    assert signer("GET", SMS_EXAMPLE, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a b", "a%20b"),  # space is %20, never +
        ("a*b", "a%2Ab"),  # * is escaped
        ("a~b", "a~b"),  # ~ is not
        ("-_.", "-_."),
        ("/", "%2F"),
        ("+=&", "%2B%3D%26"),
        ("单", "%E5%8D%95"),  # UTF-8 bytes, upper-case hex
        ('{"k":"v"}', "%7B%22k%22%3A%22v%22%7D"),
    ],
)
def test_percent_encoding_follows_the_pop_rules(raw, encoded):
    assert percent_encode(raw) == encoded
    assert emulator.pop_encode(raw) == encoded


def build_example(**overrides):
    values = {
        "access_key_id": "testId",
        "access_key_secret": "testSecret",
        "phone": "+86 153-0000-0001",
        "sign_name": "阿里云短信测试专用",
        "template_code": "SMS_71390007",
        "template_params": {"customer": "test"},
        "out_id": "123",
        "timestamp": datetime(2017, 7, 12, 10, 42, 19, tzinfo=timezone(timedelta(hours=8))),
        "nonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    }
    return build_send_sms_request(**(values | overrides))


def test_a_built_request_is_signed_as_the_documented_steps_say():
    params = build_example()
    # Step 1: every parameter but Signature, sorted, name=value percent-encoded.
    canonical = (
        "AccessKeyId=testId&Action=SendSms&Format=JSON&OutId=123&PhoneNumbers=15300000001"
        "&RegionId=cn-hangzhou"
        "&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8"
        "&SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466"
        "&SignatureVersion=1.0&TemplateCode=SMS_71390007"
        "&TemplateParam=%7B%22customer%22%3A%22test%22%7D"
        "&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25"
    )
    assert canonicalize(params) == canonical
    # Step 2: METHOD & percentEncode("/") & percentEncode(canonical): % becomes %25.
    string_to_sign = "POST&%2F&" + percent_encode(canonical)
    assert string_to_sign.startswith("POST&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26")
    assert "%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26" in string_to_sign
    assert build_string_to_sign("POST", params) == string_to_sign
    # Step 3: Base64(HMAC-SHA1(secret + "&", string to sign)).
    mac = hmac.new(b"testSecret&", string_to_sign.encode(), hashlib.sha1)
    assert params["Signature"] == base64.b64encode(mac.digest()).decode()
    assert params["Signature"] == "uXFmOZ+G8ZX3qPh4wK0RMGokzcw="


def test_a_built_request_carries_the_documented_parameters():
    params = build_example(template_params={"order_no": "DD2024*01", "name": "王 小明"})
    assert params["Action"] == "SendSms"
    assert params["Version"] == "2017-05-25"
    assert params["SignatureMethod"] == "HMAC-SHA1"
    assert params["SignatureVersion"] == "1.0"
    assert params["PhoneNumbers"] == "15300000001"
    assert params["OutId"] == "123"
    assert params["TemplateParam"] == '{"order_no":"DD2024*01","name":"王 小明"}'
    assert params["Timestamp"] == "2017-07-12T02:42:19Z"


def test_a_template_without_variables_sends_no_template_param():
    assert "TemplateParam" not in build_example(template_params={})


def test_the_signature_depends_on_the_http_method():
    assert build_example(http_method="GET")["Signature"] != build_example()["Signature"]


def test_verify_signature_accepts_its_own_request_and_refuses_tampering():
    params = build_example()
    assert verify_signature(params, "testSecret")
    assert not verify_signature(params, "wrongSecret")
    assert not verify_signature(params | {"PhoneNumbers": "15300000002"}, "testSecret")
    assert not verify_signature(params, "testSecret", "GET")
    assert not verify_signature({k: v for k, v in params.items() if k != "Signature"}, "x")


def test_the_signature_ignores_where_a_parameter_sits_in_the_dict():
    params = dict(reversed(list(SMS_EXAMPLE.items())))
    assert sign(params, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("13800138000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("19912345678", "19912345678"),
    ],
)
def test_mainland_mobile_numbers_are_sent_as_eleven_digits(raw, normalized):
    assert normalize_phone(raw) == normalized


@pytest.mark.parametrize(
    "raw", ["", "1380013800", "138001380001", "12800138000", "02112345678", "+85291234567", "abc"]
)
def test_anything_else_is_refused_before_any_call(raw):
    with pytest.raises(NotificationRejected):
        normalize_phone(raw)


def test_a_naive_timestamp_or_missing_out_id_is_a_programming_error():
    with pytest.raises(ValueError):
        build_example(timestamp=datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        build_example(out_id="")
    assert build_example(timestamp=datetime(2024, 1, 1, tzinfo=UTC))["Timestamp"].endswith("Z")


def test_an_accepted_message_becomes_a_send_result():
    result = parse_send_sms_response(
        {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "F655A8D5"},
        out_id="notify:42:shipped:sms",
    )
    assert result.provider == "aliyun_sms"
    assert result.message_id == "900619746936498440^0"
    assert result.request_id == "F655A8D5"
    assert result.idempotency_key == "notify:42:shipped:sms"


@pytest.mark.parametrize(
    ("code", "http_status", "error"),
    [
        ("isv.BUSINESS_LIMIT_CONTROL", 200, NotificationUnavailable),
        ("isp.SYSTEM_ERROR", 200, NotificationUnavailable),
        ("isv.AMOUNT_NOT_ENOUGH", 200, NotificationUnavailable),
        ("isv.DAY_LIMIT_CONTROL", 200, NotificationUnavailable),
        ("Throttling.User", 400, NotificationUnavailable),
        ("isv.SMS_SIGNATURE_ILLEGAL", 200, NotificationRejected),
        ("isv.SMS_TEMPLATE_ILLEGAL", 200, NotificationRejected),
        ("isv.MOBILE_NUMBER_ILLEGAL", 200, NotificationRejected),
        ("isv.TEMPLATE_MISSING_PARAMETERS", 200, NotificationRejected),
        ("isv.INVALID_JSON_PARAM", 200, NotificationRejected),
        ("SignatureDoesNotMatch", 400, NotificationRejected),
        ("InvalidAccessKeyId.NotFound", 404, NotificationRejected),
        ("isv.SOMETHING_NEW", 200, NotificationRejected),  # unknown: terminal, code kept
        ("", 200, NotificationRejected),
    ],
)
def test_error_codes_are_classified(code, http_status, error):
    with pytest.raises(error) as raised:
        parse_send_sms_response(
            {"Code": code, "Message": "msg", "RequestId": "R"}, http_status=http_status
        )
    assert raised.value.code == (code or None)
    assert raised.value.status_code == http_status
    assert type(raised.value) is error


def test_every_listed_code_has_exactly_one_class():
    assert not set(aliyun_sms.RETRYABLE_CODES) & set(aliyun_sms.REJECTED_CODES)
