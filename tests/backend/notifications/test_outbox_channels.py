"""The outbox's channel choice with in-process senders: terminal refusals, uncertain sends,
rows queued before one row per transition."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.jobs.worker import Worker
from backend.notifications.base import NotificationRejected, NotificationUnavailable, SendResult
from backend.notifications.consents import get_consent, record_consent
from backend.notifications.models import (
    Channel,
    ChannelReason,
    ConsentKind,
    Notification,
    NotificationEvent,
    NotificationStatus,
)
from backend.notifications.outbox import SEND, NotificationConfig, notify, send_notification
from backend.notifications.routing import WeChatApp
from backend.orders.access import issue_short_link, resolve_short_link
from backend.orders.lifecycle import OrderStatus
from backend.orders.wechat_identity import link_wechat_identity
from backend.orders.wechat_oauth import WeChatIdentity
from tests.factories import make_order

APPID, TEMPLATE, OPENID = "wx5555555555555555", "tmpl-shipped", "oOpenid_5555"
SYSTEM = Actor(ActorKind.SYSTEM, "test")


class Sender:
    """SmsSender and WeChatSender at once: records, or fails the way a provider does."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.sent: list[tuple] = []
        self.failure = failure

    def send(self, *args):
        if self.failure is not None:
            raise self.failure
        self.sent.append(args)
        return SendResult("test", args[-1], f"id-{len(self.sent)}")


def config(sms: Sender, wechat: Sender) -> NotificationConfig:
    return NotificationConfig(
        sms=sms,
        sms_templates={"shipped": "SMS_SHIPPED"},
        wechat_apps=(WeChatApp(APPID, wechat, {"shipped": TEMPLATE}),),
        link_base="https://t.example.cn",
        link_lifetime=timedelta(days=30),
        quiet_start=time(0),
        quiet_end=time(0),
    )


def consenting_order(database):
    order = make_order(database, status=OrderStatus.PAID, phone="13812345678")
    code = issue_short_link(database, order.id, SYSTEM, timedelta(days=1))
    session = resolve_short_link(database, code).session
    actor = Actor(ActorKind.CUSTOMER, f"customer:{session.customer_id}")
    link_wechat_identity(database, session, WeChatIdentity(APPID, OPENID, None), actor)
    record_consent(database, order.customer_id, APPID, [TEMPLATE], ConsentKind.ONE_TIME, SYSTEM)
    with database.write() as session:
        notify(session, order.id, NotificationEvent.SHIPPED, shipment_id=3, details={})
    return order


def run(database, cfg) -> Notification:
    Worker(database, {SEND: lambda db, p: send_notification(db, cfg, p)}).run_until_idle()
    with database.read() as session:
        return session.scalars(select(Notification)).one()


def test_a_terminal_wechat_refusal_sends_the_sms_once_instead(database):
    consenting_order(database)
    sms, wechat = Sender(), Sender(NotificationRejected("wechat", "bad data", code="47003"))
    row = run(database, config(sms, wechat))
    assert len(sms.sent) == 1 and sms.sent[0][0] == "13812345678"
    assert (row.channel, row.channel_reason, row.status) == (
        Channel.SMS,
        ChannelReason.WECHAT_FAILED_TERMINAL,
        NotificationStatus.SENT,
    )
    run(database, config(sms, Sender()))
    assert len(sms.sent) == 1


def test_a_wechat_send_that_may_have_gone_through_sends_nothing_else(database):
    order = consenting_order(database)
    sms = Sender()
    wechat = Sender(NotificationUnavailable("wechat", "read timeout", maybe_sent=True))
    row = run(database, config(sms, wechat))
    assert sms.sent == []
    assert (row.channel, row.status) == (Channel.WECHAT, NotificationStatus.UNCERTAIN)
    consent = get_consent(database, order.customer_id, APPID, TEMPLATE)
    assert consent is not None and consent.remaining == 1


def test_an_accepted_wechat_message_goes_to_the_openid_of_the_consenting_app(database):
    consenting_order(database)
    sms, wechat = Sender(), Sender()
    row = run(database, config(sms, wechat))
    ((openid, template, page, data, key),) = wechat.sent
    assert (openid, template, page, key) == (OPENID, TEMPLATE, None, row.idempotency_key)
    assert data["phrase2"] == "已发货" and sms.sent == []
    assert row.recipient == "13812345678"  # kept for a fallback; the openid is not stored


def test_a_row_queued_before_one_row_per_transition_is_not_queued_again(database):
    order = make_order(database, status=OrderStatus.PAID)
    legacy = f"n:{order.id}:3:shipped:sms"
    with database.write() as session:
        session.add(
            Notification(
                order_id=order.id,
                event=NotificationEvent.SHIPPED,
                channel=Channel.SMS,
                recipient="13800138000",
                idempotency_key=legacy,
            )
        )
    with database.write() as session:
        notify(session, order.id, NotificationEvent.SHIPPED, shipment_id=3, details={})
    with database.read() as session:
        keys = session.scalars(select(Notification.idempotency_key)).all()
    assert keys == [legacy]
