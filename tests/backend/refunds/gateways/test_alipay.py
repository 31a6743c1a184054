"""Alipay pure functions: yuan amounts, RSA2 signing, raw-substring answer checks, parsing."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from backend.refunds.gateways import alipay as ali
from backend.refunds.gateways.base import (
    GatewayRejected,
    GatewayUnavailable,
    MalformedPayload,
    RefundExceedsPayment,
    RefundNotFound,
    RefundStatus,
    ResponseNotTrusted,
    load_public_key,
    sign_sha256_rsa,
)

APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALIPAY_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
AT = datetime(2024, 5, 2, 2, 0, 0, tzinfo=UTC)  # 10:00:00 in Beijing

# An example answer with the documented fields (docs/protocols.md, "Alipay / Refund");
# values are fake.
REFUND_NODE = (
    '{"code":"10000","msg":"Success","trade_no":"2024050122001400001234567890",'
    '"out_trade_no":"ORD20240501001","buyer_logon_id":"158****1562","fund_change":"Y",'
    '"refund_fee":"10.00","gmt_refund_pay":"2024-05-02 10:00:00","send_back_fee":"10.00"}'
)


def signed_answer(name: str, node_text: str, *, key: rsa.RSAPrivateKey = ALIPAY_KEY) -> str:
    return f'{{"{name}":{node_text},"sign":"{sign_sha256_rsa(key, node_text.encode())}"}}'


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (1234, "12.34"),
        (1, "0.01"),
        (0, "0.00"),
        (10, "0.10"),
        (100, "1.00"),
        (99_999_999_999, "999999999.99"),
        (10**20 + 5, "1000000000000000000.05"),
    ],
)
def test_fen_become_yuan_strings_without_floats(fen: int, text: str) -> None:
    assert ali.format_yuan(fen) == text
    assert ali.parse_yuan(text) == fen


@pytest.mark.parametrize(("text", "fen"), [("12", 1200), ("12.3", 1230), (" 0.07 ", 7)])
def test_short_yuan_strings_parse(text: str, fen: int) -> None:
    assert ali.parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["", "-1.00", "1.234", "1e3", "12.", ".5", "abc", "1,00"])
def test_malformed_yuan_strings_are_refused(text: str) -> None:
    with pytest.raises(MalformedPayload):
        ali.parse_yuan(text)


def test_negative_fen_are_refused() -> None:
    with pytest.raises(ValueError):
        ali.format_yuan(-1)


def test_sign_content_is_sorted_skips_empty_values_and_sign() -> None:
    params = {"method": "m", "app_id": "1", "sign": "x", "notify_url": "", "biz_content": '{"a":1}'}
    assert ali.build_sign_content(params) == 'app_id=1&biz_content={"a":1}&method=m'


def test_request_is_signed_over_its_sorted_parameters() -> None:
    biz = ali.build_refund_biz_content(
        out_request_no="ORD1-R1", amount_fen=1_000, reason="缺货", out_trade_no="ORD1"
    )
    form = ali.build_request(
        app_id="2021000000000001",
        method=ali.REFUND_METHOD,
        biz_content=biz,
        private_key=APP_KEY,
        timestamp=AT,
    )
    assert form["timestamp"] == "2024-05-02 10:00:00"
    assert (form["sign_type"], form["charset"], form["version"]) == ("RSA2", "utf-8", "1.0")
    assert json.loads(form["biz_content"]) == {
        "out_trade_no": "ORD1",
        "refund_amount": "10.00",
        "out_request_no": "ORD1-R1",
        "refund_reason": "缺货",
    }
    content = "&".join(f"{k}={form[k]}" for k in sorted(form) if k != "sign")
    APP_KEY.public_key().verify(
        base64.b64decode(form["sign"]), content.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_the_signed_node_is_the_raw_substring_not_a_reserialization() -> None:
    # Spacing and escapes a re-serialization would change; the signature covers them as sent.
    node = (
        '{ "code" : "10000", "msg":"Success", "out_trade_no":"\\u8ba2\\u5355/1" ,"fund_change":"Y"}'
    )
    signature = sign_sha256_rsa(ALIPAY_KEY, node.encode())
    text = f'{{ "alipay_trade_refund_response" : {node} , "sign":"{signature}" }}'
    assert ali.split_top_level(text)["alipay_trade_refund_response"] == node
    answer = ali.read_response(text, ali.REFUND_METHOD, ALIPAY_KEY.public_key())
    assert answer["out_trade_no"] == "订单/1"


def test_an_answer_with_a_bad_signature_is_not_trusted() -> None:
    forged = signed_answer("alipay_trade_refund_response", REFUND_NODE, key=APP_KEY)
    with pytest.raises(ResponseNotTrusted):
        ali.read_response(forged, ali.REFUND_METHOD, ALIPAY_KEY.public_key())
    tampered = signed_answer("alipay_trade_refund_response", REFUND_NODE).replace(
        "10.00", "99.00", 1
    )
    with pytest.raises(ResponseNotTrusted):
        ali.read_response(tampered, ali.REFUND_METHOD, ALIPAY_KEY.public_key())


def test_an_unsigned_success_is_not_trusted_but_an_unsigned_refusal_is_taken() -> None:
    with pytest.raises(ResponseNotTrusted):
        ali.read_response(
            f'{{"alipay_trade_refund_response":{REFUND_NODE}}}',
            ali.REFUND_METHOD,
            ALIPAY_KEY.public_key(),
        )
    refusal = (
        '{"error_response":{"code":"40002","msg":"Invalid Arguments",'
        '"sub_code":"isv.invalid-app-id"}}'
    )
    with pytest.raises(GatewayRejected) as rejection:
        ali.read_response(refusal, ali.REFUND_METHOD, ALIPAY_KEY.public_key())
    assert rejection.value.code == "isv.invalid-app-id"


@pytest.mark.parametrize("text", ["", "[]", "not json", '{"a":1 "b":2}', '{"a":'])
def test_answers_that_are_not_json_objects_are_malformed(text: str) -> None:
    with pytest.raises(MalformedPayload):
        ali.split_top_level(text)


def test_fund_change_y_is_success_with_the_refund_time() -> None:
    refund = ali.parse_refund_response(
        json.loads(REFUND_NODE), out_request_no="ORD20240501001-R1", amount_fen=1_000
    )
    assert (refund.status, refund.raw_status, refund.funds_moved) == (
        RefundStatus.SUCCESS,
        "fund_change=Y",
        True,
    )
    assert (refund.amount_fen, refund.refunded_total_fen) == (1_000, 1_000)
    assert refund.success_time == AT
    assert refund.gateway_payment_id == "2024050122001400001234567890"


def test_fund_change_n_is_not_a_failure_but_processing_until_queried() -> None:
    node = json.loads(REFUND_NODE) | {"fund_change": "N", "refund_fee": "25.00"}
    refund = ali.parse_refund_response(node, out_request_no="R1", amount_fen=1_000)
    assert (refund.status, refund.funds_moved, refund.success_time) == (
        RefundStatus.PROCESSING,
        False,
        None,
    )
    assert refund.refunded_total_fen == 2_500


def test_refund_query_with_refund_success_parses() -> None:
    node = {
        "code": "10000",
        "msg": "Success",
        "out_request_no": "R1",
        "out_trade_no": "ORD1",
        "total_amount": "100.00",
        "refund_amount": "12.34",
        "refund_status": "REFUND_SUCCESS",
        "gmt_refund_pay": "2024-05-02 10:00:00",
    }
    refund = ali.parse_refund_query_response(node, out_request_no="R1")
    assert (refund.status, refund.amount_fen, refund.success_time) == (
        RefundStatus.SUCCESS,
        1_234,
        AT,
    )


def test_refund_query_without_refund_status_means_not_found() -> None:
    with pytest.raises(RefundNotFound):
        ali.parse_refund_query_response({"code": "10000", "msg": "Success"}, out_request_no="R1")


@pytest.mark.parametrize(
    ("code", "sub_code", "expected"),
    [
        ("20000", "isp.unknow-error", GatewayUnavailable),
        ("20000", None, GatewayUnavailable),
        ("40004", "ACQ.SYSTEM_ERROR", GatewayUnavailable),
        ("40004", "aop.ACQ.SYSTEM_ERROR", GatewayUnavailable),
        ("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR", RefundExceedsPayment),
        ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", GatewayRejected),
        ("40004", "ACQ.TRADE_NOT_EXIST", GatewayRejected),
        ("40004", "ACQ.TRADE_STATUS_ERROR", GatewayRejected),
        ("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH", GatewayRejected),
        ("40004", "ACQ.DISCORDANT_REPEAT_REQUEST", GatewayRejected),
        ("40004", "ACQ.SOMETHING_NEW", GatewayRejected),
        ("40002", "isv.invalid-signature", GatewayRejected),
        ("40001", None, GatewayRejected),
    ],
)
def test_answer_codes_are_classified(code: str, sub_code: str | None, expected: type) -> None:
    error = ali.classify_error(code, sub_code, "说明")
    assert type(error) is expected
    assert error.code == (sub_code or code)
    assert error.retryable is (expected is GatewayUnavailable)


def test_every_listed_sub_code_has_one_class() -> None:
    assert not ali.RETRYABLE_SUB_CODES & ali.TERMINAL_SUB_CODES.keys()
    assert ali.TERMINAL_SUB_CODES.keys() >= ali.EXCEEDS_SUB_CODES


def test_public_keys_load_from_pem_bare_base64_and_certificates() -> None:
    public = ALIPAY_KEY.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bare = b"".join(pem.splitlines()[1:-1])  # how Alipay's console shows it
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(0x5157F09E)
        .not_valid_before(AT)
        .not_valid_after(AT.replace(year=2029))
        .sign(ALIPAY_KEY, hashes.SHA256())
    )
    for source in (pem, bare, certificate.public_bytes(serialization.Encoding.PEM)):
        assert load_public_key(source).public_numbers() == public.public_numbers()
