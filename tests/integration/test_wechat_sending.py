"""One message per transition, by WeChat when the customer allowed it, else (or on failure) SMS.

Each test runs the way it runs in production: a Kuaidi100 push posted to the portal's
webhook, the worker's jobs (ingest, then the outbox's send), and the emulator's message
list as the customer's phone would see it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from backend.actors import Actor, ActorKind
from backend.jobs.models import Job, JobStatus
from backend.jobs.worker import Worker
from backend.notifications.channel_choice import WECHAT_ATTEMPTS
from backend.notifications.consents import get_consent, record_consent
from backend.notifications.models import (
    Channel,
    ChannelReason,
    ConsentKind,
    Notification,
    NotificationEvent,
    NotificationStatus,
)
from backend.orders.access import issue_short_link, resolve_short_link
from backend.orders.lifecycle import OrderStatus
from backend.orders.wechat_identity import link_wechat_identity
from backend.orders.wechat_oauth import WeChatIdentity
from backend.staff.models import Role
from emulators.kuaidi100 import Kuaidi100Emulator
from emulators.notifications import DEMO_ALIYUN_KEYS, Fault, NotificationEmulator
from emulators.serving import serve_in_thread
from portal.app import create_app
from portal.background import build_handlers
from portal.integrations import build_integrations
from tests.factories import SYSTEM, create_shipment, make_order
from tests.portal.helpers import staff_login

OFFICIAL = ("wx0fficial0account1", "official-secret")
MINI = ("wxm1n1program00001", "mini-secret")
TRACKING_TEMPLATE = "tmpl-tracking-0001"
OPENID = "oOfficialOpenid_0123456789"
WAYBILL = "ZT7500000000123"
WECHAT_EVENT = Actor(ActorKind.SYSTEM, "wechat-events", channel="wechat")
DELIVERING, SIGNED = "5", "3"  # Kuaidi100 basic states: 派件, 签收


@dataclass
class World:
    database: object
    settings: object
    client: TestClient
    messages: NotificationEmulator
    kuaidi100: Kuaidi100Emulator
    order_id: int = 0
    customer_id: int = 0
    # Carrier times have whole seconds: each step a minute after the last, all in the past.
    step_at: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(hours=2))

    def work(self) -> None:
        integrations = build_integrations(self.settings, self.database)
        try:
            Worker(self.database, build_handlers(self.settings, integrations)).run_until_idle()
        finally:
            integrations.close()

    def push(self, basic: str) -> None:
        """Kuaidi100 moves the parcel to its next `basic` state and pushes the history."""
        waybill = self.kuaidi100.waybills[WAYBILL]
        while waybill.revealed < len(waybill.plan):
            waybill.revealed += 1
            step = waybill.plan[waybill.revealed - 1]
            self.step_at += timedelta(minutes=1)
            waybill.plan[waybill.revealed - 1] = replace(step, at=self.step_at)
            if step.basic == basic:
                break
        _, param, sign = self.kuaidi100.build_push(waybill)
        answer = self.client.post("/webhooks/kuaidi100", data={"param": param, "sign": sign})
        assert answer.status_code == 200

    def link_and_consent(self, appid: str, *, granted: bool = True) -> None:
        """The customer opens their page in WeChat (openid linked) and taps "accept"."""
        code = issue_short_link(self.database, self.order_id, SYSTEM, timedelta(days=1))
        session = resolve_short_link(self.database, code).session
        actor = Actor(ActorKind.CUSTOMER, f"customer:{session.customer_id}", channel="wechat")
        link_wechat_identity(self.database, session, WeChatIdentity(appid, OPENID, None), actor)
        record_consent(
            self.database,
            self.customer_id,
            appid,
            [TRACKING_TEMPLATE],
            ConsentKind.ONE_TIME,
            WECHAT_EVENT,
        )
        if granted:  # WeChat's own count of the acceptance
            self.messages.grant(OPENID, TRACKING_TEMPLATE)

    def rows(self, event: NotificationEvent) -> list[Notification]:
        with self.database.read() as session:
            statement = select(Notification).where(Notification.event == event)
            return list(session.scalars(statement.order_by(Notification.id)))

    def make_jobs_due(self) -> None:
        with self.database.write() as session:
            session.execute(
                update(Job)
                .where(Job.status == JobStatus.PENDING, Job.kind == "notify.send")
                .values(run_at=datetime.now(UTC))
            )


def wire(settings, messages_url: str, kuaidi100_url: str, **overrides):
    ((key_id, secret),) = DEMO_ALIYUN_KEYS.items()
    templates = f"out_for_delivery={TRACKING_TEMPLATE},delivered={TRACKING_TEMPLATE}"
    return replace(
        settings,
        kuaidi100_poll_url=kuaidi100_url,
        kuaidi100_api_url=kuaidi100_url,
        aliyun_sms_access_key_id=key_id,
        aliyun_sms_access_key_secret=secret,
        aliyun_sms_sign_name="示例商城",
        aliyun_sms_endpoint=messages_url,
        wechat_appid=OFFICIAL[0],
        wechat_app_secret=OFFICIAL[1],
        wechat_templates=templates,
        wechat_miniprogram_appid=MINI[0],
        wechat_miniprogram_secret=MINI[1],
        wechat_miniprogram_templates=templates,
        wechat_api_base_url=messages_url,
        **overrides,
    )


@pytest.fixture
def servers() -> Iterator[tuple[NotificationEmulator, str, Kuaidi100Emulator, str]]:
    messages = NotificationEmulator(
        wechat_apps=dict([OFFICIAL]), miniprogram_apps=dict([MINI]), require_grants=True
    )
    kuaidi100 = Kuaidi100Emulator()
    with serve_in_thread(messages.app) as messages_url, serve_in_thread(kuaidi100.app) as k_url:
        yield messages, messages_url, kuaidi100, k_url
    kuaidi100._http.close()


def world(database, settings, servers, **overrides) -> Iterator[World]:
    messages, messages_url, kuaidi100, kuaidi100_url = servers
    wired = wire(settings, messages_url, kuaidi100_url, **overrides)
    with TestClient(create_app(wired, database)) as client:
        here = World(database, wired, client, messages, kuaidi100)
        order = make_order(database, status=OrderStatus.PACKED, phone="13812345678")
        here.order_id, here.customer_id = order.id, order.customer_id
        create_shipment(database, order.id, "zhongtong", WAYBILL, SYSTEM)
        here.work()  # subscribes the waybill; the "shipped" SMS (no WeChat template) goes
        messages.messages.clear()
        yield here


@pytest.fixture
def shop(database, settings, servers) -> Iterator[World]:
    yield from world(database, settings, servers)


@pytest.fixture
def both(database, settings, servers) -> Iterator[World]:
    yield from world(database, settings, servers, notify_both_channels=True)


@pytest.fixture
def night(database, settings, servers) -> Iterator[World]:
    """A shop whose quiet hours cover (nearly) the whole day, shipped before they began."""
    for here in world(database, settings, servers):
        here.settings = replace(here.settings, quiet_hours="00:00:00-23:59:59")
        yield here


@pytest.mark.parametrize(("appid", "api"), [(OFFICIAL[0], "bizsend"), (MINI[0], "send")])
def test_after_a_consent_a_carrier_push_sends_one_wechat_message_and_no_sms(shop, appid, api):
    shop.link_and_consent(appid)
    shop.push(SIGNED)
    shop.work()
    shop.work()  # a second worker pass sends nothing more

    (message,) = shop.messages.sent("wechat")
    assert shop.messages.sent("sms") == []
    assert (message["openid"], message["template_id"], message["api"]) == (
        OPENID,
        TRACKING_TEMPLATE,
        api,
    )
    assert message["data"]["phrase2"] == "已签收"
    (row,) = shop.rows(NotificationEvent.DELIVERED)
    assert message["data"]["character_string1"] == row.params["order"]
    assert (row.channel, row.channel_reason, row.status) == (
        Channel.WECHAT,
        ChannelReason.CONSENT_USED,
        NotificationStatus.SENT,
    )
    assert row.wechat_appid == appid
    consent = get_consent(shop.database, shop.customer_id, appid, TRACKING_TEMPLATE)
    assert consent is not None and consent.remaining == 0  # the one acceptance is used


def test_without_a_consent_a_carrier_push_sends_exactly_one_sms(shop):
    shop.push(SIGNED)
    shop.work()
    shop.work()

    assert shop.messages.sent("wechat") == []
    (sms,) = shop.messages.sent("sms")
    assert sms["phone"] == "13812345678"
    (row,) = shop.rows(NotificationEvent.DELIVERED)
    assert (row.channel, row.channel_reason) == (Channel.SMS, ChannelReason.NO_OPENID)


def test_a_43101_refusal_sends_the_sms_instead_and_every_later_message_goes_by_sms(shop):
    # Our store says yes, WeChat says the acceptance is gone (used elsewhere, or revoked).
    shop.link_and_consent(OFFICIAL[0], granted=False)
    shop.push(DELIVERING)
    shop.work()

    assert shop.messages.sent("wechat") == []
    assert len(shop.messages.sent("sms")) == 1
    (first,) = shop.rows(NotificationEvent.OUT_FOR_DELIVERY)
    assert (first.channel, first.channel_reason, first.status) == (
        Channel.SMS,
        ChannelReason.REFUSED_43101,
        NotificationStatus.SENT,
    )
    assert "43101" in (first.last_error or "")
    consent = get_consent(shop.database, shop.customer_id, OFFICIAL[0], TRACKING_TEMPLATE)
    assert consent is not None and consent.refused_at is not None

    shop.messages.grant(OPENID, TRACKING_TEMPLATE)  # WeChat would now accept one...
    shop.push(SIGNED)
    shop.work()
    # ...but the customer refused, so WeChat is not asked again until a new acceptance.
    assert shop.messages.sent("wechat") == []
    assert len(shop.messages.sent("sms")) == 2
    (second,) = shop.rows(NotificationEvent.DELIVERED)
    assert (second.channel, second.channel_reason) == (Channel.SMS, ChannelReason.CONSENT_REFUSED)
    assert second.wechat_attempts == 0


def test_staff_see_per_message_which_channel_was_used_and_why(shop):
    shop.link_and_consent(OFFICIAL[0], granted=False)
    shop.push(DELIVERING)
    shop.work()
    shop.messages.grant(OPENID, TRACKING_TEMPLATE)
    record_consent(
        shop.database,
        shop.customer_id,
        OFFICIAL[0],
        [TRACKING_TEMPLATE],
        ConsentKind.ONE_TIME,
        WECHAT_EVENT,
    )
    shop.push(SIGNED)
    shop.work()

    staff_login(shop.client, shop.database, Role.SUPPORT)
    page = shop.client.get(f"/admin/orders/{shop.order_id}")
    assert page.status_code == 200
    cells = re.findall(r'<td>([^<]*)</td><td class="small channel-reason">([^<]*)</td>', page.text)
    # Newest first: delivered by WeChat, out for delivery by SMS after the 43101, shipped.
    assert cells == [
        ("微信", "用户已订阅微信通知"),
        ("短信", "微信拒收（43101），已改发短信"),
        ("短信", "此类消息未配置微信模板"),
    ]


def test_wechat_down_falls_back_to_one_sms_and_nothing_is_sent_twice(shop):
    shop.link_and_consent(OFFICIAL[0])
    shop.messages.set_fault("wechat", Fault(status=503))
    shop.push(SIGNED)
    shop.work()
    for _ in range(WECHAT_ATTEMPTS - 1):
        assert shop.messages.sent() == []  # still waiting for WeChat: nothing lost, nothing sent
        shop.make_jobs_due()
        shop.work()

    (row,) = shop.rows(NotificationEvent.DELIVERED)
    assert (row.channel, row.channel_reason, row.status) == (
        Channel.SMS,
        ChannelReason.WECHAT_UNAVAILABLE,
        NotificationStatus.SENT,
    )
    assert row.wechat_attempts == WECHAT_ATTEMPTS
    shop.messages.clear_faults()  # WeChat is back: the message is not sent again there
    shop.make_jobs_due()
    shop.work()
    assert shop.messages.sent("wechat") == []
    assert len(shop.messages.sent("sms")) == 1
    consent = get_consent(shop.database, shop.customer_id, OFFICIAL[0], TRACKING_TEMPLATE)
    assert consent is not None and consent.remaining == 1  # unused: the customer may get one


def test_a_short_wechat_outage_is_waited_out_and_the_message_still_goes_by_wechat(shop):
    shop.link_and_consent(OFFICIAL[0])
    shop.messages.set_fault("wechat", Fault(status=503, times=2))
    shop.push(SIGNED)
    shop.work()
    shop.make_jobs_due()
    shop.work()
    assert shop.messages.sent() == []
    shop.make_jobs_due()
    shop.work()

    assert len(shop.messages.sent("wechat")) == 1
    assert shop.messages.sent("sms") == []
    (row,) = shop.rows(NotificationEvent.DELIVERED)
    # The emulated outage takes the token call first, then the send: three attempts.
    assert (row.channel_reason, row.wechat_attempts) == (ChannelReason.CONSENT_USED, 3)


def test_with_both_channels_on_a_wechat_message_has_its_sms_twin(both):
    both.link_and_consent(OFFICIAL[0])
    both.push(SIGNED)
    both.work()
    both.work()

    assert len(both.messages.sent("wechat")) == 1
    assert len(both.messages.sent("sms")) == 1
    reasons = {(r.channel, r.channel_reason) for r in both.rows(NotificationEvent.DELIVERED)}
    assert reasons == {
        (Channel.WECHAT, ChannelReason.CONSENT_USED),
        (Channel.SMS, ChannelReason.BOTH_CHANNELS),
    }


def test_a_wechat_message_waits_for_morning_like_an_sms_and_keeps_its_consent(night):
    night.link_and_consent(OFFICIAL[0])
    night.push(SIGNED)
    night.work()

    assert night.messages.sent() == []
    (row,) = night.rows(NotificationEvent.DELIVERED)
    assert row.status == NotificationStatus.PENDING and row.channel_reason is None
    consent = get_consent(night.database, night.customer_id, OFFICIAL[0], TRACKING_TEMPLATE)
    assert consent is not None and consent.remaining == 1


def test_a_consent_reported_by_the_mini_program_sends_the_next_transition_by_wechat(shop):
    """Acceptance 2's end: wx.login, the phone, wx.requestSubscribeMessage's result reported
    to /api/miniprogram/consents, then a carrier push: one WeChat message (send), no SMS."""
    appid = MINI[0]
    code = shop.messages.miniprogram.login_code(appid, OPENID, None)
    login = shop.client.post("/api/miniprogram/login", json={"code": code})
    assert login.status_code == 200, login.text
    auth = {"authorization": f"Bearer {login.json()['token']}"}
    phone_code = shop.messages.miniprogram.phone_code(appid, OPENID, "13812345678")
    phone = shop.client.post("/api/miniprogram/phone", json={"code": phone_code}, headers=auth)
    assert phone.status_code == 200, phone.text
    auth = {"authorization": f"Bearer {phone.json()['token']}"}
    reported = shop.client.post(
        "/api/miniprogram/consents", json={TRACKING_TEMPLATE: "accept"}, headers=auth
    )
    assert reported.status_code == 200, reported.text
    shop.messages.grant(OPENID, TRACKING_TEMPLATE)  # WeChat's own count of the acceptance

    shop.push(SIGNED)
    shop.work()
    shop.work()

    (message,) = shop.messages.sent("wechat")
    assert (message["openid"], message["api"]) == (OPENID, "send")
    assert shop.messages.sent("sms") == []
