"""Widely used SDKs (wechatpayv3, python-alipay-sdk) against the payments emulator over HTTP.

They are independent clients: when they and our adapters both get through, the emulator
speaks what the providers speak rather than only what our adapters happen to send.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
import pytest
from alipay import AliPay
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import build_authorization as sdk_authorization

from backend.refunds.gateways import alipay as ali
from backend.refunds.gateways import wechatpay as wx
from backend.refunds.gateways.alipay_notify import parse_refund_notify, verify_notify_params
from backend.refunds.gateways.base import RefundStatus, load_private_key, load_public_key
from emulators.payments import PaymentsEmulator
from tests.backend.refunds.gateways.conftest import NotifyInbox

FIELD = re.compile(r'(\w+)="([^"]*)"')
PEM = (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
_MERCHANT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
MERCHANT_PEM = _MERCHANT_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_PEM = _MERCHANT_KEY.public_key().public_bytes(*PEM).decode()


@pytest.fixture
def wxpay(emulator: tuple[PaymentsEmulator, str], inbox: tuple[NotifyInbox, str]) -> WeChatPay:
    gateway, url = emulator
    credentials = gateway.enroll_wechat_merchant("1900000109")
    sdk = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=credentials.mchid,
        private_key=credentials.private_key_pem,
        cert_serial_no=credentials.serial_no,
        appid="wxd678efh567hg6787",
        apiv3_key=credentials.api_v3_key.decode(),
        notify_url=inbox[1],
        public_key=credentials.platform_public_key_pem,  # 微信支付公钥 mode
        public_key_id=credentials.platform_serial,
        timeout=(3, 5),
    )
    sdk._core._gate_way = url  # the SDK has no base-URL setting, only the production host
    return sdk


@pytest.fixture
def shanghai_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """python-alipay-sdk stamps requests with the machine's local time, which Alipay reads
    as Beijing time: run it the way a merchant's server in China would."""
    monkeypatch.setenv("TZ", "CST-8")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def alipay_sdk(emulator: tuple[PaymentsEmulator, str], shanghai_clock: None) -> AliPay:
    gateway, url = emulator
    credentials = gateway.enroll_alipay_app("2021000000000001")
    sdk = AliPay(
        appid=credentials.app_id,
        app_private_key_string=credentials.private_key_pem,
        alipay_public_key_string=credentials.alipay_public_key_pem,
        sign_type="RSA2",
    )
    sdk._gateway = f"{url}/gateway.do"  # the SDK knows only the production and sandbox hosts
    return sdk


def test_wechatpayv3_applies_and_queries_a_refund_and_verifies_answers_and_notify(
    wxpay: WeChatPay, emulator: tuple[PaymentsEmulator, str], inbox: tuple[NotifyInbox, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-SDK-1", 12_800)

    status, text = wxpay.refund(
        out_refund_no="RF-SDK-1",
        amount={"refund": 2_000, "total": 12_800, "currency": "CNY"},
        out_trade_no="PAY-SDK-1",
        reason="七天无理由退货",
    )

    assert status == 200 and json.loads(text)["status"] == "PROCESSING"
    headers, body = inbox[0].wait_for(1)[0]
    notice = wxpay.callback(headers, body)
    assert notice is not None, "wechatpayv3 refused the notify's signature"
    assert notice["event_type"] == "REFUND.SUCCESS"
    assert notice["resource"]["out_refund_no"] == "RF-SDK-1"
    assert notice["resource"]["refund_status"] == "SUCCESS"
    status, text = wxpay.query_refund("RF-SDK-1")
    assert status == 200 and json.loads(text)["status"] == "SUCCESS"
    assert gateway.refunded_fen("PAY-SDK-1") == 2_000


def test_wechatpayv3_refuses_a_tampered_notify(
    wxpay: WeChatPay, emulator: tuple[PaymentsEmulator, str], inbox: tuple[NotifyInbox, str]
) -> None:
    emulator[0].seed_payment("PAY-SDK-2", 5_000)
    wxpay.refund(
        out_refund_no="RF-SDK-2",
        amount={"refund": 5_000, "total": 5_000, "currency": "CNY"},
        out_trade_no="PAY-SDK-2",
    )
    headers, body = inbox[0].wait_for(1)[0]

    assert wxpay.callback(headers, body.replace(b"REFUND.SUCCESS", b"REFUND.CLOSED")) is None


def test_python_alipay_sdk_refunds_and_queries_with_get_requests(
    alipay_sdk: AliPay, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-SDK-3", 9_900)

    answer = alipay_sdk.api_alipay_trade_refund(
        refund_amount="10.00",
        out_trade_no="PAY-SDK-3",
        out_request_no="RF-SDK-3-1",
        refund_reason="商品破损",
    )

    assert (answer["code"], answer["fund_change"], answer["refund_fee"]) == ("10000", "Y", "10.00")
    query = alipay_sdk.api_alipay_trade_fastpay_refund_query("RF-SDK-3-1", out_trade_no="PAY-SDK-3")
    assert (query["code"], query["refund_status"], query["refund_amount"]) == (
        "10000",
        "REFUND_SUCCESS",
        "10.00",
    )
    assert gateway.refunded_fen("PAY-SDK-3") == 1_000


def test_python_alipay_sdk_replaying_a_request_number_refunds_once(
    alipay_sdk: AliPay, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-SDK-4", 9_900)
    for _ in range(2):
        answer = alipay_sdk.api_alipay_trade_refund(
            refund_amount="20.00", out_trade_no="PAY-SDK-4", out_request_no="RF-SDK-4-1"
        )
    assert answer["fund_change"] == "N"
    assert gateway.refunded_fen("PAY-SDK-4") == 2_000


def test_common_parameters_in_the_query_and_biz_content_in_the_body_are_signed_together(
    emulator: tuple[PaymentsEmulator, str], http: httpx.Client
) -> None:
    """How Alipay's own SDK (alipay-sdk-python, DefaultAlipayClient.execute) sends a call."""
    gateway, url = emulator
    credentials = gateway.enroll_alipay_app("2021000000000002")
    gateway.seed_payment("PAY-SDK-5", 3_000)
    biz = ali.build_refund_biz_content(
        out_request_no="RF-SDK-5-1", amount_fen=3_000, reason="缺货", out_trade_no="PAY-SDK-5"
    )
    params = ali.build_request(
        app_id=credentials.app_id,
        method=ali.REFUND_METHOD,
        biz_content=biz,
        private_key=load_private_key(credentials.private_key_pem),
        timestamp=datetime.now(UTC),
    )
    body = {"biz_content": params.pop("biz_content")}

    response = http.post(f"{url}/gateway.do", params=params, data=body)

    public_key = load_public_key(credentials.alipay_public_key_pem)
    node = ali.read_response(response.text, ali.REFUND_METHOD, public_key)
    assert (node["code"], node["fund_change"]) == ("10000", "Y")
    assert gateway.refunded_fen("PAY-SDK-5") == 3_000


def test_the_alipay_notify_verifies_under_our_check_and_python_alipay_sdks(
    alipay_sdk: AliPay, emulator: tuple[PaymentsEmulator, str], inbox: tuple[NotifyInbox, str]
) -> None:
    gateway, _ = emulator
    receiver, wechat_url = inbox
    notify_url = wechat_url.replace("/wechatpay/refund", "/alipay/notify")
    gateway.seed_payment("PAY-SDK-6", 8_800, notify_url=notify_url)
    alipay_sdk.api_alipay_trade_refund(
        refund_amount="18.00", out_trade_no="PAY-SDK-6", out_request_no="RF-SDK-6-1"
    )

    headers, body = receiver.wait_for(1)[0]

    assert headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    public_key = load_public_key(gateway.alipay.alipay_key.public_key().public_bytes(*PEM).decode())
    assert verify_notify_params(form, public_key)
    unsigned = {k: v for k, v in form.items() if k != "sign"}
    assert alipay_sdk.verify(dict(unsigned), form["sign"])
    assert not alipay_sdk.verify(unsigned | {"refund_fee": "88.00"}, form["sign"])
    notice = parse_refund_notify(form)
    assert notice.refund is not None
    assert (notice.refund.out_refund_no, notice.refund.status) == (
        "RF-SDK-6-1",
        RefundStatus.SUCCESS,
    )
    assert (notice.refund.refunded_total_fen, notice.trade_status) == (1_800, "TRADE_SUCCESS")


# --- our adapters' signing against the SDKs' signing functions, on the same input -------


def test_our_wechat_authorization_header_is_wechatpayv3s_byte_for_byte() -> None:
    key = load_private_key(MERCHANT_PEM)
    body = wx.encode_json(
        wx.build_refund_request(
            out_refund_no="RF-1|2*3@4_5",
            amount_fen=2_000,
            total_fen=12_800,
            reason="七天无理由退货",
            notify_url="https://shop.example/webhooks/wechatpay/refund",
            out_trade_no="DD20240502001",
        )
    )
    for method, path, content in [
        ("POST", wx.REFUNDS_PATH, body),
        ("GET", wx.build_query_path("RF-1|2*3@4_5"), b""),
    ]:
        theirs = sdk_authorization(
            path, method, "1900000109", "SERIAL01", key, data=content.decode(), nonce_str="N0NCE"
        )
        stamp = int(dict(FIELD.findall(theirs))["timestamp"])
        ours = wx.build_authorization(
            method=method,
            url=path,
            body=content,
            mchid="1900000109",
            serial_no="SERIAL01",
            private_key=key,
            timestamp=stamp,
            nonce="N0NCE",
        )
        assert ours == theirs


def test_our_alipay_request_signature_is_python_alipay_sdks_byte_for_byte() -> None:
    sdk = AliPay(
        appid="2021000000000001",
        app_private_key_string=MERCHANT_PEM,
        alipay_public_key_string=PUBLIC_PEM,
        sign_type="RSA2",
    )
    biz = ali.build_refund_biz_content(
        out_request_no="RF-7-1", amount_fen=1_234, reason="商品破损 & 少件", out_trade_no="DD7"
    )
    params = ali.build_request(
        app_id="2021000000000001",
        method=ali.REFUND_METHOD,
        biz_content=biz,
        private_key=load_private_key(MERCHANT_PEM),
        timestamp=datetime(2024, 5, 2, 8, 0, tzinfo=UTC),
    )
    unsigned = {k: v for k, v in params.items() if k != "sign"}

    signed = dict(parse_qsl(sdk.sign_data(dict(unsigned))))

    assert signed["sign"] == params["sign"]
