"""The WeChat issue's first acceptance, in Chromium with WeChat's user agent.

An SMS link opened in WeChat passes through OAuth at the emulator and lands back on the
same page, with the openid linked. The customer taps 微信通知我, and WeChat pushes the
popup's result to our server. A carrier push then sends exactly one WeChat message and no
SMS. A customer who never consented gets exactly one SMS for the same kind of push.
Everything goes through the production surface: the live portal, its webhooks (Kuaidi100,
WeChat's server push), the worker, and the emulators over loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Playwright
from sqlalchemy import select

from backend.db import Database
from backend.jobs.worker import Worker
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import CustomerWechatId
from emulators.kuaidi100 import Kuaidi100Emulator
from emulators.notifications import DEMO_ALIYUN_KEYS, NotificationEmulator
from emulators.serving import serve_in_thread
from emulators.wechat_push import build_subscribe_event
from portal.background import build_handlers
from portal.integrations import build_integrations
from portal.settings import Settings
from tests.browser.live import phone_context_options
from tests.browser.parcels import sms_link
from tests.browser.wechat_sdk import SDK_STUB
from tests.conftest import KUAIDI100_SALT
from tests.factories import SYSTEM, create_shipment, make_order
from tests.portal.wechat_official import APPID, PUSH_TOKEN, official_account

pytestmark = pytest.mark.browser

WECHAT_TAIL = " MicroMessenger/8.0.50(0x18003231) NetType/WIFI Language/zh_CN"
TEMPLATE = "TplTracking0001"
SIGNED = "3"  # Kuaidi100's basic state 签收


@pytest.fixture
def emulators() -> Iterator[tuple[NotificationEmulator, str, Kuaidi100Emulator, str]]:
    messages = NotificationEmulator(require_grants=True)
    kuaidi100 = Kuaidi100Emulator()
    with serve_in_thread(messages.app) as messages_url, serve_in_thread(kuaidi100.app) as k_url:
        yield messages, messages_url, kuaidi100, k_url
    kuaidi100._http.close()


@pytest.fixture
def settings(settings: Settings, emulators) -> Settings:
    _messages, messages_url, kuaidi100, kuaidi100_url = emulators
    ((key_id, secret),) = DEMO_ALIYUN_KEYS.items()
    return replace(
        official_account(settings, messages_url),
        wechat_templates=f"delivered={TEMPLATE}",
        kuaidi100_customer=kuaidi100.customer,
        kuaidi100_salt=KUAIDI100_SALT,
        kuaidi100_key=kuaidi100.key,
        kuaidi100_secret=kuaidi100.secret,
        kuaidi100_poll_url=kuaidi100_url,
        kuaidi100_api_url=kuaidi100_url,
        aliyun_sms_access_key_id=key_id,
        aliyun_sms_access_key_secret=secret,
        aliyun_sms_sign_name="示例商城",
        aliyun_sms_endpoint=messages_url,
        # Both channels could carry the delivery: which one does is the point.
        sms_templates="shipped=SMS_SHIPPED,delivered=SMS_DELIVERED",
    )


def work(settings: Settings, database: Database) -> None:
    integrations = build_integrations(settings, database)
    try:
        Worker(database, build_handlers(settings, integrations)).run_until_idle()
    finally:
        integrations.close()


def deliver(live_server: str, kuaidi100: Kuaidi100Emulator, waybill: str) -> None:
    """Kuaidi100 pushes the parcel's history up to 签收, as its subscription would."""
    parcel = kuaidi100.waybills[waybill]
    start = datetime.now(UTC) - timedelta(hours=3)
    for index in range(len(parcel.plan)):
        parcel.plan[index] = replace(parcel.plan[index], at=start + timedelta(minutes=index))
    parcel.revealed = next(i + 1 for i, step in enumerate(parcel.plan) if step.basic == SIGNED)
    _, param, sign = kuaidi100.build_push(parcel)
    answer = httpx.post(f"{live_server}/webhooks/kuaidi100", data={"param": param, "sign": sign})
    assert answer.status_code == 200


def shipped(database: Database, settings: Settings, phone: str, waybill: str):
    order = make_order(database, status=OrderStatus.PACKED, phone=phone)
    create_shipment(database, order.id, "zhongtong", waybill, SYSTEM)
    work(settings, database)  # subscribes the waybill; the shipped text goes by SMS
    return order


def test_in_wechat_oauth_then_consent_then_a_push_is_one_wechat_message_and_no_sms(
    browser: Browser,
    playwright: Playwright,
    live_server: str,
    settings: Settings,
    database: Database,
    emulators,
) -> None:
    messages, _url, kuaidi100, _k_url = emulators
    order = shipped(database, settings, "13812340001", "ZT7500000000201")
    assert [sms["phone"] for sms in messages.sent("sms")] == ["13812340001"]  # the shipped text
    messages.messages.clear()
    options = phone_context_options(playwright)
    options["user_agent"] += WECHAT_TAIL
    context = browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(10_000)
    context.route(
        "https://res.wx.qq.com/**",
        lambda route: route.fulfill(content_type="application/javascript", body=SDK_STUB),
    )
    try:
        page = context.new_page()
        page.goto(sms_link(database, order.id))
        # Through WeChat's authorize page at the emulator and back to the very page.
        assert page.url.partition("#")[0] == f"{live_server}/orders/{order.public_no}"
        assert len(messages.oauth.authorize_requests) == 1
        with database.read() as session:
            linked = session.scalars(
                select(CustomerWechatId).where(CustomerWechatId.customer_id == order.customer_id)
            ).all()
        assert [(row.appid, row.openid) for row in linked] == [(APPID, messages.oauth.user.openid)]
        page.get_by_role("button", name="微信通知我").click()
        page.get_by_text("谢谢，微信会通知您这笔订单的进展。").wait_for()
    finally:
        context.close()
    # What WeChat does after the popup: counts the acceptance, and pushes it to our server.
    openid = messages.oauth.user.openid
    messages.grant(openid, TEMPLATE)
    push = build_subscribe_event(PUSH_TOKEN, openid, {TEMPLATE: "accept"})
    answer = httpx.post(
        f"{live_server}/webhooks/wechat/official", params=push.params, content=push.body
    )
    assert answer.status_code == 200

    deliver(live_server, kuaidi100, "ZT7500000000201")
    work(settings, database)
    work(settings, database)  # a second pass sends nothing more

    (wechat,) = messages.sent("wechat")
    assert (wechat["openid"], wechat["template_id"]) == (openid, TEMPLATE)
    assert messages.sent("sms") == []


def test_without_a_consent_the_same_push_is_exactly_one_sms(
    browser: Browser,
    playwright: Playwright,
    live_server: str,
    settings: Settings,
    database: Database,
    emulators,
) -> None:
    messages, _url, kuaidi100, _k_url = emulators
    order = shipped(database, settings, "13812340002", "ZT7500000000202")
    messages.messages.clear()
    options = phone_context_options(playwright)
    options["user_agent"] += WECHAT_TAIL
    context = browser.new_context(base_url=live_server, **options)
    try:
        page = context.new_page()
        page.goto(sms_link(database, order.id))  # linked by OAuth, but no consent given
        assert page.url.partition("#")[0] == f"{live_server}/orders/{order.public_no}"
    finally:
        context.close()

    deliver(live_server, kuaidi100, "ZT7500000000202")
    work(settings, database)
    work(settings, database)

    assert messages.sent("wechat") == []
    (sms,) = messages.sent("sms")
    assert sms["phone"] == "13812340002"
