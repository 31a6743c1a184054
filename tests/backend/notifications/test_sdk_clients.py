"""Aliyun's own SDK (alibabacloud_dysmsapi20170525) against the SMS emulator, and our signing
checked against the SDK's signing functions on the same input.

The SDK is an independent client: when it and our adapter both get through, the emulator
speaks what Aliyun speaks rather than only what our adapter happens to send.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pytest
from alibabacloud_dysmsapi20170525.client import Client as DysmsClient
from alibabacloud_dysmsapi20170525.models import SendSmsRequest
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils as OpenApiUtils
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

from backend.notifications import aliyun_sms
from emulators import aliyun_signing
from emulators.notifications import NotificationEmulator

from .conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SHIPPED_TEMPLATE, SIGN_NAME

SHIPPED = {"order_no": "DD20240502001", "carrier": "顺丰速运", "tracking_no": "SF1234567890"}


def sdk_client(url: str, *, secret: str = ACCESS_KEY_SECRET, algorithm: str | None = None):
    config = Config(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=secret,
        endpoint=url.removeprefix("http://"),
        protocol="http",
        read_timeout=5000,
        connect_timeout=3000,
    )
    if algorithm:
        config.signature_algorithm = algorithm  # "v2": the RPC HMAC-SHA1 signature
    return DysmsClient(config)


def send_request(out_id: str) -> SendSmsRequest:
    return SendSmsRequest(
        phone_numbers="13800138000",
        sign_name=SIGN_NAME,
        template_code=SHIPPED_TEMPLATE,
        template_param=json.dumps(SHIPPED, ensure_ascii=False),
        out_id=out_id,
    )


@pytest.mark.parametrize(
    ("algorithm", "scheme"), [(None, "ACS3-HMAC-SHA256"), ("v2", "HMAC-SHA1")], ids=["v3", "v2"]
)
def test_aliyuns_sdk_sends_an_sms_through_the_emulator(
    emulator: NotificationEmulator, emulator_url: str, algorithm: str | None, scheme: str
) -> None:
    client = sdk_client(emulator_url, algorithm=algorithm)

    answer = client.send_sms_with_options(send_request("notif-1"), RuntimeOptions(autoretry=False))

    assert (answer.status_code, answer.body.code) == (200, "OK")
    (message,) = emulator.sent("sms")
    assert (message["phone"], message["out_id"], message["biz_id"]) == (
        "13800138000",
        "notif-1",
        answer.body.biz_id,
    )
    assert message["content"].endswith("您的订单DD20240502001已发货，顺丰速运运单号SF1234567890")
    assert message["signature_method"] == scheme


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3", "v2"])
def test_a_wrong_secret_gets_aliyuns_error_code_and_sends_nothing(
    emulator: NotificationEmulator, emulator_url: str, algorithm: str | None
) -> None:
    client = sdk_client(emulator_url, secret="not-the-secret", algorithm=algorithm)

    with pytest.raises(ClientException) as refused:
        client.send_sms_with_options(send_request("notif-2"), RuntimeOptions(autoretry=False))

    assert refused.value.code == "SignatureDoesNotMatch"
    assert refused.value.status_code == 400
    assert emulator.sent("sms") == []


def test_a_replayed_v3_nonce_is_refused(emulator: NotificationEmulator, emulator_url: str) -> None:
    headers = v3_headers(emulator_url, nonce="fixed-nonce-1")
    query = {"PhoneNumbers": "13800138000", "SignName": SIGN_NAME, "TemplateCode": SHIPPED_TEMPLATE}
    query["TemplateParam"] = json.dumps(SHIPPED, ensure_ascii=False)
    signed = v3_sign(headers, query, ACCESS_KEY_SECRET)
    first = httpx.post(emulator_url + "/", params=query, headers=signed)
    again = httpx.post(emulator_url + "/", params=query, headers=signed)

    assert (first.status_code, first.json()["Code"]) == (200, "OK")
    assert (again.status_code, again.json()["Code"]) == (400, "SignatureNonceUsed")
    assert len(emulator.sent("sms")) == 1


def v3_headers(url: str, *, nonce: str) -> dict[str, str]:
    return {
        "host": url.removeprefix("http://"),
        "x-acs-action": "SendSms",
        "x-acs-version": "2017-05-25",
        "x-acs-date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": OpenApiUtils.hash(b"", "ACS3-HMAC-SHA256").hex(),
    }


def v3_sign(headers: dict[str, str], query: dict[str, str], secret: str) -> dict[str, str]:
    """The SDK's own signing function over a request we lay out ourselves."""
    request = SimpleNamespace(method="POST", pathname="/", query=query, headers=headers)
    payload = headers["x-acs-content-sha256"]
    authorization = OpenApiUtils.get_authorization(
        request, "ACS3-HMAC-SHA256", payload, ACCESS_KEY_ID, secret
    )
    return headers | {"Authorization": authorization}


def test_the_emulators_v3_check_computes_the_sdks_signature_byte_for_byte() -> None:
    headers = v3_headers("dysmsapi.aliyuncs.com", nonce="3ee8c1b8-83d3-44af")
    query = {"PhoneNumbers": "13800138000", "SignName": "小店 物流*~", "TemplateCode": "SMS_1"}
    authorization = v3_sign(headers, query, "secret")["Authorization"]
    fields = aliyun_signing.parse_acs3_authorization(authorization)
    assert fields is not None
    canonical = aliyun_signing.acs3_canonical_request(
        "POST", "/", sorted(query.items()), headers, fields.signed_headers
    )

    expected = aliyun_signing.acs3_signature(fields.algorithm, canonical, "secret")

    assert expected == fields.signature


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_our_rpc_signature_is_the_sdks_byte_for_byte(method: str) -> None:
    params = aliyun_sms.build_send_sms_request(
        access_key_id="testId",
        access_key_secret="testSecret",
        phone="+86 138-0013-8000",
        sign_name="小店物流",
        template_code="SMS_460000001",
        template_params={"order_no": "DD2024*05~02 001", "carrier": "顺丰速运"},
        out_id="notif:42/1",
        timestamp=datetime(2024, 5, 2, 8, 0, tzinfo=UTC),
        nonce="45e25e9b-0a6f-4070-8c85-2956eda1b466",
        http_method=method,
    )
    unsigned = {name: value for name, value in params.items() if name != "Signature"}

    sdk_signature = OpenApiUtils.get_rpcsignature(unsigned, method, "testSecret")

    assert aliyun_sms.sign(unsigned, "testSecret", method) == sdk_signature
    assert params["Signature"] == sdk_signature


def sendsms_query() -> dict[str, str]:
    return {
        "PhoneNumbers": "13800138000",
        "SignName": SIGN_NAME,
        "TemplateCode": SHIPPED_TEMPLATE,
        "TemplateParam": json.dumps(SHIPPED, ensure_ascii=False),
    }


def test_a_v3_body_that_is_not_the_one_hashed_is_refused(
    emulator: NotificationEmulator, emulator_url: str
) -> None:
    headers = v3_headers(emulator_url, nonce="n-body")
    headers["content-type"] = "application/x-www-form-urlencoded"
    signed = v3_sign(headers, {}, ACCESS_KEY_SECRET)  # signed over an empty body
    form = urlencode(sendsms_query()).encode()

    answer = httpx.post(emulator_url + "/", content=form, headers=signed)

    assert (answer.status_code, answer.json()["Code"]) == (400, "SignatureDoesNotMatch")
    assert emulator.sent("sms") == []


def test_a_v3_header_left_out_of_the_signature_is_refused(
    emulator: NotificationEmulator, emulator_url: str
) -> None:
    headers = v3_headers(emulator_url, nonce="n-unsigned")
    signed = v3_sign(headers, sendsms_query(), ACCESS_KEY_SECRET)
    signed["x-acs-action"] = "SendBatchSms"  # changed after signing: must not slip through
    answer = httpx.post(emulator_url + "/", params=sendsms_query(), headers=signed)
    assert (answer.status_code, answer.json()["Code"]) == (400, "SignatureDoesNotMatch")

    signed = v3_sign(headers, sendsms_query(), ACCESS_KEY_SECRET)
    signed["x-acs-extra"] = "not signed"
    answer = httpx.post(emulator_url + "/", params=sendsms_query(), headers=signed)
    assert (answer.status_code, answer.json()["Code"]) == (400, "IncompleteSignature")
    assert emulator.sent("sms") == []
