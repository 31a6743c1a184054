"""The real clients against the emulator served by uvicorn on loopback: no mocked HTTP."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import httpx
import pytest

from backend.notifications.aliyun_sms import AliyunSmsClient, build_send_sms_request
from backend.notifications.base import (
    NotificationRejected,
    NotificationUnavailable,
    SmsSender,
    WeChatSender,
)
from backend.notifications.wechat_subscribe import (
    AccessTokenInvalid,
    StableTokenProvider,
    WeChatClient,
)
from emulators.notifications import DEMO_WECHAT_APPS, Fault, NotificationEmulator

from .conftest import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    APP_SECRET,
    APPID,
    OPENID,
    SHIPPED_TEMPLATE,
    SIGN_NAME,
    TEMPLATE_ID,
)

SHIPPED = {"order_no": "DD20240502001", "carrier": "顺丰速运", "tracking_no": "SF1234567890"}
WECHAT_DATA = {
    "character_string1": "DD20240502001",
    "thing2": "浙江省杭州市西湖区文三路九十号东部软件园三号楼",
    "phrase3": "已发货",
}


def sms_client(http: httpx.Client, url: str, **overrides: object) -> AliyunSmsClient:
    values: dict[str, object] = {
        "access_key_id": ACCESS_KEY_ID,
        "access_key_secret": ACCESS_KEY_SECRET,
        "sign_name": SIGN_NAME,
        "endpoint": url,
    }
    return AliyunSmsClient(http, **(values | overrides))  # type: ignore[arg-type]


def wechat_client(
    http: httpx.Client, url: str, *, secret: str = APP_SECRET, clock=time.monotonic
) -> tuple[WeChatClient, StableTokenProvider]:
    tokens = StableTokenProvider(http, appid=APPID, secret=secret, base_url=url, clock=clock)
    return WeChatClient(http, tokens, base_url=url), tokens


def send_shipped_sms(sender: SmsSender, out_id: str = "notify:42:shipped:sms"):
    return sender.send("+86 138-0013-8000", SHIPPED_TEMPLATE, SHIPPED, out_id)


def send_wechat(sender: WeChatSender, key: str = "notify:42:shipped:wechat"):
    return sender.send(OPENID, TEMPLATE_ID, "pages/order/detail?id=42", WECHAT_DATA, key)


def test_an_sms_is_signed_accepted_and_logged(http, emulator, emulator_url):
    result = send_shipped_sms(sms_client(http, emulator_url))
    assert result.message_id is not None and result.message_id.endswith("^0")
    assert result.idempotency_key == "notify:42:shipped:sms"
    [message] = emulator.sent("sms")
    assert message["phone"] == "13800138000"
    assert (message["template_code"], message["params"]) == (SHIPPED_TEMPLATE, SHIPPED)
    assert message["out_id"] == "notify:42:shipped:sms"
    assert message["biz_id"] == result.message_id
    assert (
        message["content"] == "【小店物流】您的订单DD20240502001已发货，顺丰速运运单号SF1234567890"
    )
    logged = http.get(f"{emulator_url}/_emulator/messages", params={"channel": "sms"}).json()
    assert logged["messages"] == [message]


def test_an_out_id_sent_twice_is_delivered_twice_because_aliyun_does_not_dedupe(
    http, emulator, emulator_url
):
    client = sms_client(http, emulator_url)
    first, second = send_shipped_sms(client), send_shipped_sms(client)
    assert first.message_id != second.message_id
    assert [m["out_id"] for m in emulator.sent("sms")] == ["notify:42:shipped:sms"] * 2


def test_an_sms_outage_is_retryable_and_sends_nothing(http, emulator, emulator_url):
    emulator.set_fault("sms", Fault(status=503))
    with pytest.raises(NotificationUnavailable) as raised:
        send_shipped_sms(sms_client(http, emulator_url))
    assert raised.value.status_code == 503
    assert not raised.value.maybe_sent
    assert emulator.sent() == []


def test_the_fault_switch_works_over_http_for_the_demo(http, emulator, emulator_url):
    http.post(f"{emulator_url}/_emulator/fault", json={"status": 503}).raise_for_status()
    with pytest.raises(NotificationUnavailable):
        send_shipped_sms(sms_client(http, emulator_url))
    http.delete(f"{emulator_url}/_emulator/fault").raise_for_status()
    send_shipped_sms(sms_client(http, emulator_url))
    http.delete(f"{emulator_url}/_emulator/messages").raise_for_status()
    assert emulator.sent() == []


def test_a_wrong_secret_is_refused_as_a_bad_signature(http, emulator, emulator_url):
    with pytest.raises(NotificationRejected) as raised:
        send_shipped_sms(sms_client(http, emulator_url, access_key_secret="not-the-secret"))
    assert (raised.value.code, raised.value.status_code) == ("SignatureDoesNotMatch", 400)
    assert emulator.sent() == []


def test_an_unknown_access_key_is_refused(http, emulator, emulator_url):
    with pytest.raises(NotificationRejected) as raised:
        send_shipped_sms(sms_client(http, emulator_url, access_key_id="LTAIunknown"))
    assert (raised.value.code, raised.value.status_code) == ("InvalidAccessKeyId.NotFound", 404)
    assert emulator.sent() == []


@pytest.mark.parametrize(
    ("template_code", "params", "code"),
    [
        (SHIPPED_TEMPLATE, {"order_no": "DD1"}, "isv.TEMPLATE_MISSING_PARAMETERS"),
        ("SMS_999999999", SHIPPED, "isv.SMS_TEMPLATE_ILLEGAL"),
    ],
)
def test_template_refusals_are_terminal(http, emulator, emulator_url, template_code, params, code):
    with pytest.raises(NotificationRejected) as raised:
        sms_client(http, emulator_url).send("13800138000", template_code, params, "k")
    assert raised.value.code == code
    assert emulator.sent() == []


def test_an_unapproved_sign_name_is_terminal(http, emulator, emulator_url):
    with pytest.raises(NotificationRejected) as raised:
        send_shipped_sms(sms_client(http, emulator_url, sign_name="别家店"))
    assert raised.value.code == "isv.SMS_SIGNATURE_ILLEGAL"


def test_flow_control_is_retryable_and_the_retry_goes_through(http, emulator, emulator_url):
    emulator.set_fault("sms", Fault(code="isv.BUSINESS_LIMIT_CONTROL", times=1))
    client = sms_client(http, emulator_url)
    with pytest.raises(NotificationUnavailable) as raised:
        send_shipped_sms(client)
    assert raised.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    send_shipped_sms(client)
    assert len(emulator.sent("sms")) == 1


def test_an_invalid_phone_is_refused_without_calling_aliyun(http, emulator, emulator_url):
    with pytest.raises(NotificationRejected):
        sms_client(http, emulator_url).send("12345", SHIPPED_TEMPLATE, SHIPPED, "k")
    assert emulator.sent() == []


def test_an_unreachable_endpoint_is_retryable_and_certainly_not_sent(http):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(NotificationUnavailable) as raised:
        send_shipped_sms(sms_client(http, f"http://127.0.0.1:{closed_port}"))
    assert not raised.value.maybe_sent


def test_a_timeout_after_sending_is_retryable_but_may_have_been_delivered(
    http, emulator, emulator_url
):
    emulator.set_fault("sms", Fault(delay=0.5, times=1))
    client = sms_client(http, emulator_url, timeout=httpx.Timeout(0.1))
    with pytest.raises(NotificationUnavailable) as raised:
        send_shipped_sms(client)
    assert raised.value.maybe_sent
    deadline = time.monotonic() + 5
    while not emulator.sent() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(emulator.sent("sms")) == 1  # why a blind retry could text the customer twice


def test_a_get_signed_request_is_accepted_and_a_replayed_nonce_is_not(http, emulator, emulator_url):
    params = build_send_sms_request(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        phone="13800138000",
        sign_name=SIGN_NAME,
        template_code=SHIPPED_TEMPLATE,
        template_params=SHIPPED,
        out_id="k",
        timestamp=datetime.now(UTC),
        nonce="nonce-1",
        http_method="GET",
    )
    assert http.get(f"{emulator_url}/", params=params).json()["Code"] == "OK"
    replay = http.get(f"{emulator_url}/", params=params)
    assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")
    assert len(emulator.sent("sms")) == 1


def test_a_subscribe_message_is_sent_shortened_and_logged(http, emulator, emulator_url):
    emulator.grant(OPENID, TEMPLATE_ID)
    client, _ = wechat_client(http, emulator_url)
    result = send_wechat(client)
    [message] = emulator.sent("wechat")
    assert (message["openid"], message["template_id"]) == (OPENID, TEMPLATE_ID)
    assert message["page"] == "pages/order/detail?id=42"
    assert message["data"]["thing2"] == "浙江省杭州市西湖区文三路九十号东部软件…"  # 20 characters
    assert message["data"]["character_string1"] == "DD20240502001"
    assert result.message_id == message["msgid"]
    assert result.idempotency_key == "notify:42:shipped:wechat"
    assert emulator.token_requests == 1


def test_the_token_is_reused_until_shortly_before_it_expires(http, emulator, emulator_url):
    now = [1000.0]
    emulator.grant(OPENID, TEMPLATE_ID, count=3)
    client, _ = wechat_client(http, emulator_url, clock=lambda: now[0])
    send_wechat(client, "k1")
    send_wechat(client, "k2")
    assert emulator.token_requests == 1
    now[0] += 7200 - 60
    send_wechat(client, "k3")
    assert emulator.token_requests == 2


def test_a_refused_token_is_refreshed_once_and_the_message_sent(http, emulator, emulator_url):
    emulator.grant(OPENID, TEMPLATE_ID, count=2)
    client, _ = wechat_client(http, emulator_url)
    send_wechat(client, "k1")
    http.post(f"{emulator_url}/_emulator/wechat/expire-tokens").raise_for_status()
    send_wechat(client, "k2")
    assert emulator.token_requests == 2
    assert len(emulator.sent("wechat")) == 2


def test_a_token_refused_again_after_refreshing_is_left_to_the_job_queue(emulator, emulator_url):
    calls: list[str] = []
    hooks = {"request": [lambda request: calls.append(request.url.path)]}
    with httpx.Client(event_hooks=hooks) as http:
        client, tokens = wechat_client(http, emulator_url)
        tokens.token()
        emulator.set_fault("wechat", Fault(code="40001"))
        with pytest.raises(AccessTokenInvalid):
            send_wechat(client)
    # One send, one refresh that WeChat refuses too, and no loop after that.
    assert calls == [
        "/cgi-bin/stable_token",
        "/cgi-bin/message/subscribe/send",
        "/cgi-bin/stable_token",
    ]


def test_a_user_without_an_authorisation_is_terminal(http, emulator, emulator_url):
    client, _ = wechat_client(http, emulator_url)
    with pytest.raises(NotificationRejected) as raised:
        send_wechat(client)
    assert raised.value.code == "43101"
    assert emulator.sent() == []


def test_one_acceptance_allows_exactly_one_message(http, emulator, emulator_url):
    grant = {"openid": OPENID, "template_id": TEMPLATE_ID}
    http.post(f"{emulator_url}/_emulator/wechat/grants", json=grant).raise_for_status()
    client, _ = wechat_client(http, emulator_url)
    send_wechat(client, "k1")
    with pytest.raises(NotificationRejected) as raised:
        send_wechat(client, "k2")
    assert raised.value.code == "43101"
    assert len(emulator.sent("wechat")) == 1


@pytest.mark.parametrize(
    ("fault", "status_code", "code"),
    [(Fault(status=503), 503, None), (Fault(code="-1"), None, "-1")],
)
def test_a_wechat_outage_or_busy_system_is_retryable(
    http, emulator, emulator_url, fault, status_code, code
):
    emulator.grant(OPENID, TEMPLATE_ID)
    client, tokens = wechat_client(http, emulator_url)
    tokens.token()
    emulator.set_fault("wechat", fault)
    with pytest.raises(NotificationUnavailable) as raised:
        send_wechat(client)
    assert (raised.value.status_code, raised.value.code) == (status_code, code)
    assert emulator.sent() == []


def test_a_wrong_app_secret_is_terminal(http, emulator, emulator_url):
    emulator.grant(OPENID, TEMPLATE_ID)
    client, _ = wechat_client(http, emulator_url, secret="not-the-secret")
    with pytest.raises(NotificationRejected) as raised:
        send_wechat(client)
    assert raised.value.code == "40125"
    assert emulator.sent() == []


def test_the_emulator_refuses_an_overlong_value_as_wechat_does(http, emulator, emulator_url):
    _, tokens = wechat_client(http, emulator_url)
    body = {"touser": OPENID, "template_id": TEMPLATE_ID, "data": {"thing1": {"value": "长" * 21}}}
    answer = http.post(
        f"{emulator_url}/cgi-bin/message/subscribe/send",
        params={"access_token": tokens.token()},
        json=body,
    ).json()
    assert answer["errcode"] == 47003
    assert "data.thing1.value" in answer["errmsg"]


def test_the_demo_emulator_takes_any_template_and_needs_no_grant():
    emulator = NotificationEmulator()
    [(appid, secret)] = DEMO_WECHAT_APPS.items()
    answer = emulator.answer_token(
        {"grant_type": "client_credential", "appid": appid, "secret": secret}
    )
    body = {"touser": OPENID, "template_id": "any", "data": {"thing1": {"value": "已发货"}}}
    assert emulator.answer_send(answer["access_token"], body)["errcode"] == 0
    assert [m["data"] for m in emulator.sent("wechat")] == [{"thing1": "已发货"}]
