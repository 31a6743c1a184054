"""WeChat Pay APIv3 pure functions: request body, signatures, AES-GCM notify, parsing, errors."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.refunds.gateways import wechatpay as wx
from backend.refunds.gateways.base import (
    GatewayRejected,
    GatewayUnavailable,
    NotifyRejected,
    RefundNotFound,
    RefundStatus,
    sign_sha256_rsa,
)

API_V3_KEY = b"0123456789abcdef0123456789abcdef"
MERCHANT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PLATFORM_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PLATFORM_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PLATFORM_KEYS = {PLATFORM_SERIAL: PLATFORM_KEY.public_key()}
NOW = 1_714_608_000  # 2024-05-02 08:00:00 +08:00

# The documented fields (docs/protocols.md, "WeChat Pay / Refund query"); values are fake.
QUERY_ANSWER = {
    "refund_id": "50000000382019052709732678859",
    "out_refund_no": "RF-1217752501201407033233368018",
    "transaction_id": "1217752501201407033233368018",
    "out_trade_no": "1217752501201407033233368018",
    "channel": "ORIGINAL",
    "user_received_account": "招商银行信用卡0403",
    "success_time": "2020-12-01T16:18:12+08:00",
    "create_time": "2020-12-01T16:18:12+08:00",
    "status": "SUCCESS",
    "funds_account": "UNSETTLED",
    "amount": {
        "total": 100,
        "refund": 100,
        "payer_total": 90,
        "payer_refund": 90,
        "settlement_refund": 100,
        "settlement_total": 100,
        "discount_refund": 10,
        "currency": "CNY",
    },
}
RESOURCE = {
    "mchid": "1900000100",
    "out_trade_no": "1217752501201407033233368018",
    "transaction_id": "1217752501201407033233368018",
    "out_refund_no": "1217752501201407033233368018",
    "refund_id": "1217752501201407033233368018",
    "refund_status": "SUCCESS",
    "success_time": "2018-06-08T10:34:56+08:00",
    "user_received_account": "支付用户零钱",
    "amount": {"total": 999, "refund": 999, "payer_total": 999, "payer_refund": 999},
}


def signed_headers(body: bytes, *, timestamp: int = NOW, key: rsa.RSAPrivateKey = PLATFORM_KEY):
    nonce = "fdasflkja484w"
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_sha256_rsa(key, message),
        "Wechatpay-Serial": PLATFORM_SERIAL,
    }


def sealed_resource(resource: dict, *, nonce: str = "fdasfl0984s2", aad: str = "refund") -> dict:
    plain = json.dumps(resource, ensure_ascii=False).encode()
    sealed = AESGCM(API_V3_KEY).encrypt(nonce.encode(), plain, aad.encode())
    return {
        "original_type": "refund",
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": aad,
        "nonce": nonce,
    }


def notify_body(resource: dict) -> bytes:
    envelope = {
        "id": "EV-2018022511223320873",
        "create_time": "2018-06-08T10:34:56+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "REFUND.SUCCESS",
        "summary": "退款成功",
        "resource": sealed_resource(resource),
    }
    return json.dumps(envelope, ensure_ascii=False).encode()


def test_refund_request_has_the_documented_shape() -> None:
    body = wx.build_refund_request(
        out_refund_no="RF-1|a*b@c_d",
        amount_fen=1_234,
        total_fen=12_800,
        reason="商品已售完",
        notify_url="https://shop.example/webhooks/wechatpay/refund",
        out_trade_no="PAY-1",
    )
    assert body == {
        "out_trade_no": "PAY-1",
        "out_refund_no": "RF-1|a*b@c_d",
        "reason": "商品已售完",
        "notify_url": "https://shop.example/webhooks/wechatpay/refund",
        "amount": {"refund": 1_234, "total": 12_800, "currency": "CNY"},
    }


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"out_refund_no": "has space"}, "format"),
        ({"out_refund_no": "x" * 65}, "format"),
        ({"amount_fen": 0}, "positive"),
        ({"amount_fen": 12_801}, "positive"),
        ({"transaction_id": "4200"}, "exactly one"),
    ],
)
def test_refund_request_refuses_what_wechat_would(changes: dict, problem: str) -> None:
    arguments = {
        "out_refund_no": "RF-1",
        "amount_fen": 100,
        "total_fen": 12_800,
        "reason": "",
        "notify_url": "https://x",
        "out_trade_no": "PAY-1",
    } | changes
    with pytest.raises(ValueError, match=problem):
        wx.build_refund_request(**arguments)


def test_a_long_reason_is_cut_to_80_bytes_without_splitting_a_character() -> None:
    body = wx.build_refund_request(
        out_refund_no="RF-1",
        amount_fen=1,
        total_fen=1,
        reason="退" * 40,
        notify_url="https://x",
        transaction_id="42",
    )
    assert body["reason"] == "退" * 26  # 26 × 3 bytes = 78 ≤ 80
    assert body["transaction_id"] == "42"


def test_authorization_header_verifies_with_the_merchant_public_key() -> None:
    body = wx.encode_json({"out_refund_no": "RF-1", "reason": "缺货"})
    header = wx.build_authorization(
        method="POST",
        url="/v3/refund/domestic/refunds",
        body=body,
        mchid="1900000109",
        serial_no="ABC123",
        private_key=MERCHANT_KEY,
        timestamp=NOW,
        nonce="n0nce",
    )
    scheme, _, rest = header.partition(" ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    assert fields.keys() == {"mchid", "nonce_str", "signature", "timestamp", "serial_no"}
    assert (fields["mchid"], fields["serial_no"], fields["timestamp"]) == (
        "1900000109",
        "ABC123",
        str(NOW),
    )
    message = b"POST\n/v3/refund/domestic/refunds\n" + f"{NOW}\nn0nce\n".encode() + body + b"\n"
    MERCHANT_KEY.public_key().verify(
        base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
    )  # raises when wrong


def test_query_path_percent_encodes_the_bar_only() -> None:
    assert wx.build_query_path("RF-1|2*3@4_5") == "/v3/refund/domestic/refunds/RF-1%7C2*3@4_5"


def test_response_signature_round_trip_and_tampering() -> None:
    body = json.dumps(QUERY_ANSWER, ensure_ascii=False).encode()
    headers = signed_headers(body)
    assert wx.verify_response_signature(headers, body, PLATFORM_KEYS)
    lowercase = {name.lower(): value for name, value in headers.items()}
    assert wx.verify_response_signature(lowercase, body, PLATFORM_KEYS)
    assert not wx.verify_response_signature(headers, body.replace(b"100", b"900"), PLATFORM_KEYS)
    assert not wx.verify_response_signature(
        headers, body, {"OTHER-SERIAL": PLATFORM_KEY.public_key()}
    )
    forged = signed_headers(body, key=MERCHANT_KEY)
    assert not wx.verify_response_signature(forged, body, PLATFORM_KEYS)


@pytest.mark.parametrize(
    ("signature_type", "accepted"),
    [
        ("WECHATPAY2-SHA256-RSA2048", True),  # what WeChat Pay sends
        (None, True),  # absent: older answers, checked as RSA
        ("WECHATPAY2-SM2-WITH-SM3", False),  # 国密: a scheme we do not implement
        ("wechatpay2-sha256-rsa2048", False),
        ("SHA1", False),
    ],
)
def test_the_signature_type_is_checked_when_present(signature_type, accepted) -> None:
    body = json.dumps(QUERY_ANSWER, ensure_ascii=False).encode()
    headers = signed_headers(body)  # a good RSA signature in every case
    if signature_type is not None:
        headers["Wechatpay-Signature-Type"] = signature_type
    assert wx.verify_response_signature(headers, body, PLATFORM_KEYS) is accepted
    notify = {name.lower(): value for name, value in headers.items()}
    assert wx.verify_notify_signature(notify, body, PLATFORM_KEYS, now=NOW) is accepted


@pytest.mark.parametrize(
    ("age", "accepted"), [(0, True), (299, True), (-299, True), (301, False), (-301, False)]
)
def test_notify_timestamps_far_from_now_are_refused_as_replays(age: int, accepted: bool) -> None:
    body = notify_body(RESOURCE)
    headers = signed_headers(body, timestamp=NOW - age)
    assert wx.verify_notify_signature(headers, body, PLATFORM_KEYS, now=NOW) is accepted


def test_aes_gcm_resource_decrypts_to_the_refund() -> None:
    assert wx.decrypt_notify_resource(sealed_resource(RESOURCE), API_V3_KEY) == RESOURCE
    without_aad = sealed_resource(RESOURCE, aad="")
    assert wx.decrypt_notify_resource(without_aad, API_V3_KEY) == RESOURCE


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: r | {"associated_data": "other"},
        lambda r: r | {"nonce": "000000000000"},
        lambda r: r | {"ciphertext": "A" + r["ciphertext"][1:]},
        lambda r: r | {"ciphertext": "not base64!"},
        lambda r: r | {"algorithm": "AES_128_CBC"},
    ],
)
def test_a_tampered_resource_is_refused(tamper) -> None:
    with pytest.raises(NotifyRejected):
        wx.decrypt_notify_resource(tamper(sealed_resource(RESOURCE)), API_V3_KEY)


def test_read_refund_notify_verifies_decrypts_and_parses() -> None:
    body = notify_body(RESOURCE)
    notice = wx.read_refund_notify(
        signed_headers(body), body, platform_keys=PLATFORM_KEYS, api_v3_key=API_V3_KEY, now=NOW
    )
    assert (notice.event_id, notice.event_type, notice.summary) == (
        "EV-2018022511223320873",
        "REFUND.SUCCESS",
        "退款成功",
    )
    refund = notice.refund
    assert (refund.status, refund.amount_fen, refund.received_account) == (
        RefundStatus.SUCCESS,
        999,
        "支付用户零钱",
    )
    assert refund.success_time == datetime(2018, 6, 8, 2, 34, 56, tzinfo=UTC)
    with pytest.raises(NotifyRejected):
        wx.read_refund_notify(
            signed_headers(body),
            body + b" ",
            platform_keys=PLATFORM_KEYS,
            api_v3_key=API_V3_KEY,
            now=NOW,
        )


def test_query_answer_parses_to_a_gateway_refund() -> None:
    refund = wx.parse_refund_response(json.dumps(QUERY_ANSWER))
    assert refund.status is RefundStatus.SUCCESS and refund.raw_status == "SUCCESS"
    assert (refund.amount_fen, refund.gateway_refund_id) == (100, "50000000382019052709732678859")
    assert refund.received_account == "招商银行信用卡0403"
    assert refund.success_time == datetime(2020, 12, 1, 8, 18, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("PROCESSING", RefundStatus.PROCESSING),
        ("SUCCESS", RefundStatus.SUCCESS),
        ("CLOSED", RefundStatus.CLOSED),
        ("ABNORMAL", RefundStatus.ABNORMAL),
        ("SOMETHING_NEW", RefundStatus.UNKNOWN),
    ],
)
def test_statuses_are_normalized_and_unknown_ones_kept_raw(raw: str, status: RefundStatus) -> None:
    answer = QUERY_ANSWER | {"status": raw}
    answer.pop("success_time")
    refund = wx.parse_refund_response(answer)
    assert (refund.status, refund.raw_status) == (status, raw)


@pytest.mark.parametrize(
    ("http_status", "code", "querying", "expected"),
    [
        (500, "SYSTEM_ERROR", False, GatewayUnavailable),
        (502, None, False, GatewayUnavailable),
        (503, None, True, GatewayUnavailable),
        (429, "FREQUENCY_LIMITED", False, GatewayUnavailable),
        (408, None, False, GatewayUnavailable),
        (400, "SYSTEM_ERROR", False, GatewayUnavailable),
        (400, "PARAM_ERROR", False, GatewayRejected),
        (400, "INVALID_REQUEST", False, GatewayRejected),
        (400, "MCH_NOT_EXISTS", False, GatewayRejected),
        (401, "SIGN_ERROR", False, GatewayRejected),
        (403, "NO_AUTH", False, GatewayRejected),
        (403, "NOT_ENOUGH", False, GatewayRejected),
        (403, "USER_ACCOUNT_ABNORMAL", False, GatewayRejected),
        (404, "RESOURCE_NOT_EXISTS", False, GatewayRejected),
        (404, "RESOURCE_NOT_EXISTS", True, RefundNotFound),
        (418, "SOMETHING_NEW", False, GatewayRejected),
    ],
)
def test_error_answers_are_classified(http_status, code, querying, expected) -> None:
    body = (
        json.dumps({"code": code, "message": "说明"}).encode()
        if code
        else b"<html>Bad Gateway</html>"
    )
    error = wx.parse_error(http_status, body, querying=querying)
    assert type(error) is expected
    assert (error.code, error.status_code) == (code, http_status)
    assert error.retryable is (expected is GatewayUnavailable)


def test_every_listed_code_has_one_class() -> None:
    assert not wx.RETRYABLE_CODES & wx.TERMINAL_CODES.keys()
