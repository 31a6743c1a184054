"""The notification outbox: a row per message, written with the change that causes it.

A provider outage delays messages and loses none: the send is a job retried with
backoff. Each transition is notified at most once, by one row whose unique key is also
the provider's OutId; the row's channel (WeChat or SMS) is chosen as it is sent
(backend/notifications/channel_choice.py). Nothing is sent at night; it waits for morning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor
from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.notifications import wechat_sending
from backend.notifications.base import NotificationRejected, NotificationUnavailable, SmsSender
from backend.notifications.models import (
    Channel,
    ChannelReason,
    Notification,
    NotificationEvent,
    NotificationStatus,
)
from backend.notifications.routing import WeChatApp, plan_route
from backend.orders.access import SHORT_CODE_LENGTH, hash_code, new_short_code
from backend.orders.masking import mask_phone
from backend.orders.models import AddressVersion, Customer, Order, ShortLink

log = logging.getLogger(__name__)

SEND = "notify.send"


@dataclass(frozen=True)
class NotificationConfig:
    """What sending needs: the providers, their template codes, the links, quiet hours.

    `link_lifetime` is how long the /t/ code in an SMS works (PORTAL_SHORT_LINK_DAYS).
    Without WeChat apps every message is an SMS.
    """

    sms: SmsSender | None = None
    sms_templates: Mapping[str, str] = field(default_factory=dict)
    # Tried in this order; the first whose customer allowed the template sends.
    wechat_apps: tuple[WeChatApp, ...] = ()
    # PORTAL_NOTIFY_BOTH_CHANNELS: a WeChat message gets its SMS twin as well.
    both_channels: bool = False
    link_base: str = ""
    quiet_start: time = time(22, 0)
    quiet_end: time = time(8, 0)
    link_lifetime: timedelta = field(kw_only=True)


@dataclass(frozen=True)
class NoticeRules:
    """When customers are not messaged (Shanghai time): 22:00-08:00 by default, as the
    seed articles and China's SMS rules expect. A rule staff tune (backend/rulebook)."""

    quiet_hours: tuple[time, time] = (time(22, 0), time(8, 0))
    # SMS template codes by event (shipped=SMS_123…), over the ones the process started with.
    sms_templates: Mapping[str, str] = field(default_factory=dict)
    # The official account's (公众号) subscribe-message template ids by event, over its own.
    wechat_templates: Mapping[str, str] = field(default_factory=dict)
    wechat_appid: str = ""  # which app those are for: the settings' official account
    # The same for the mini-program (小程序), which has template ids of its own.
    miniprogram_templates: Mapping[str, str] = field(default_factory=dict)
    miniprogram_appid: str = ""


def with_rules(config: NotificationConfig, rules: NoticeRules) -> NotificationConfig:
    """The sending config with the quiet hours and template codes in force now."""
    start, end = rules.quiet_hours
    templates = {**config.sms_templates, **rules.sms_templates}
    tuned = {rules.wechat_appid: rules.wechat_templates}
    tuned[rules.miniprogram_appid] = rules.miniprogram_templates
    apps = tuple(
        replace(app, templates={**app.templates, **tuned[app.appid]})
        if tuned.get(app.appid)
        else app
        for app in config.wechat_apps
    )
    same = (
        config.quiet_start,
        config.quiet_end,
        dict(config.sms_templates),
        tuple(config.wechat_apps),
    )
    if same == (start, end, templates, apps):
        return config
    return replace(
        config, quiet_start=start, quiet_end=end, sms_templates=templates, wechat_apps=apps
    )


def quiet_until(now: datetime, start: time, end: time) -> datetime | None:
    """The end of the quiet period `now` falls in (Shanghai time), or None when it may send."""
    local = now.astimezone(SHANGHAI)
    clock = local.time()
    overnight = start > end
    quiet = (clock >= start or clock < end) if overnight else (start <= clock < end)
    if not quiet:
        return None
    wake = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake


def notify(
    session: Session,
    order_id: int,
    event: NotificationEvent,
    *,
    shipment_id: int | None = None,
    details: Mapping[str, str],
    reference: str | None = None,
    sms_to: str | None = None,
    urgent: bool = False,
) -> None:
    """Queue the messages for one transition, inside the caller's transaction; once only.

    `reference` tells repeated events of one order apart (one per address version);
    `sms_to` sends the text elsewhere than the current phone (the one being replaced).
    """
    row = session.execute(
        select(Order.public_no, AddressVersion.phone, Customer.phone.label("buyer"))
        .join(Customer, Customer.id == Order.customer_id)
        .outerjoin(AddressVersion, AddressVersion.id == Order.current_address_id)
        .where(Order.id == order_id)
    ).one()
    key = f"n:{order_id}:{reference or shipment_id or 0}:{event}"[:60]
    # Rows queued before one row per transition carried the channel in their key.
    legacy = [f"{key}:{channel}"[:64] for channel in Channel]
    known = select(Notification.id).where(Notification.idempotency_key.in_([key, *legacy]))
    if session.scalar(known):
        return
    # The phone an SMS goes to, kept even when WeChat carries the message: a WeChat
    # failure falls back to it.
    notification = Notification(
        order_id=order_id,
        shipment_id=shipment_id,
        event=event,
        channel=Channel.SMS,
        recipient=sms_to or row.phone or row.buyer,
        params={"order": row.public_no, **details},
        idempotency_key=key,
        created_at=utcnow(),
        urgent=urgent,
    )
    session.add(notification)
    session.flush()
    jobs.enqueue(session, SEND, {"notification_id": notification.id}, key=f"send:{key}")


def _template_params(stored: Mapping[str, Any], link_base: str) -> dict[str, str]:
    params = {k: str(v) for k, v in stored.items() if k != "code"}
    code = stored.get("code")
    if code and len(code) == SHORT_CODE_LENGTH:
        params["link"] = f"{link_base.rstrip('/')}/t/{code}"
    return params


def _sms_template(config: NotificationConfig, notification: Notification) -> str | None:
    if notification.channel != Channel.SMS or config.sms is None:
        return None
    return config.sms_templates.get(notification.event) or None


def _with_link(
    database: Database, config: NotificationConfig, notification: Notification
) -> dict[str, Any]:
    """The SMS's /t/ code is made as the text goes out, so its lifetime starts when the
    customer gets it (not before a night's quiet hours); a retry reuses the stored one."""
    params = dict(notification.params)
    if "code" in params or _sms_template(config, notification) is None:
        return params
    with database.write() as session:
        row = session.get(Notification, notification.id, with_for_update=True)
        assert row is not None
        if "code" not in row.params:
            now = utcnow()
            code = new_short_code()
            session.add(
                ShortLink(
                    code_hash=hash_code(code),
                    order_id=row.order_id,
                    purpose="sms",
                    created_at=now,
                    expires_at=now + config.link_lifetime,
                )
            )
            row.params = {**row.params, "code": code}
        return dict(row.params)


def _send_sms(
    database: Database,
    config: NotificationConfig,
    notification: Notification,
    outcome: dict[str, Any],
) -> dict[str, Any]:
    """The SMS attempt's outcome; an outage that certainly sent nothing is saved and raised."""
    template = _sms_template(config, notification)
    if config.sms is None or template is None:
        return {"status": NotificationStatus.SKIPPED}
    params = _template_params(_with_link(database, config, notification), config.link_base)
    key = notification.idempotency_key
    try:
        result = config.sms.send(notification.recipient, template, params, key)
    except NotificationRejected as error:
        return {"status": NotificationStatus.FAILED, "last_error": str(error)[:500]}
    except NotificationUnavailable as error:
        if not error.maybe_sent:
            _save(database, notification.id, {**outcome, "last_error": str(error)[:500]})
            raise
        # It may have reached the customer: better one missing message than two.
        return {"status": NotificationStatus.UNCERTAIN, "last_error": str(error)[:500]}
    sent = {"status": NotificationStatus.SENT, "sent_at": utcnow()}
    return sent | {"provider_message_id": result.message_id}


def send_notification(
    database: Database, config: NotificationConfig, payload: dict[str, Any]
) -> None:
    """Job handler. Safe to run twice: a sent message is never sent again."""
    with database.read() as session:
        notification = session.get(Notification, payload["notification_id"])
    if notification is None or notification.status != NotificationStatus.PENDING:
        return
    wake = quiet_until(utcnow(), config.quiet_start, config.quiet_end)
    if wake is not None and not notification.urgent:
        raise jobs.RetryLater(wake - utcnow(), "quiet hours")
    route = plan_route(database, config.wechat_apps, notification)
    outcome: dict[str, Any] = {"attempts": notification.attempts + 1}
    outcome |= {"channel": route.choice.channel, "channel_reason": route.choice.reason}
    if route.choice.channel == Channel.SMS:
        notification.channel = Channel.SMS
        sent_sms = _send_sms(database, config, notification, outcome)
        _save(database, notification.id, outcome | sent_sms)
        return
    if config.both_channels:
        _queue_twin(database, notification.id)
    sent = wechat_sending.attempt(route, notification)
    if sent.next == wechat_sending.Next.FALL_BACK and config.both_channels:
        # The twin SMS carries the transition already: this row only records the failure.
        sent.values.update(status=NotificationStatus.FAILED, channel=Channel.WECHAT)
    _save(database, notification.id, outcome | sent.values, again=sent.next)
    wechat_sending.settle_consent(database, route, sent)
    if sent.next == wechat_sending.Next.RETRY:
        assert sent.error is not None
        raise sent.error


def _queue_twin(database: Database, notification_id: int) -> None:
    """The SMS beside a WeChat message (PORTAL_NOTIFY_BOTH_CHANNELS), queued once."""
    with database.write() as session:
        original = session.get(Notification, notification_id)
        assert original is not None
        key = f"{original.idempotency_key[:60]}:sms"
        if session.scalar(select(Notification.id).where(Notification.idempotency_key == key)):
            return
        twin = Notification(
            order_id=original.order_id,
            shipment_id=original.shipment_id,
            event=original.event,
            channel=Channel.SMS,
            channel_reason=ChannelReason.BOTH_CHANNELS,
            recipient=original.recipient,
            params={k: v for k, v in original.params.items() if k != "code"},
            idempotency_key=key,
            created_at=original.created_at,
            urgent=original.urgent,
        )
        session.add(twin)
        session.flush()
        jobs.enqueue(session, SEND, {"notification_id": twin.id}, key=f"send:{key}")


def _save(
    database: Database,
    notification_id: int,
    values: dict[str, Any],
    *,
    again: wechat_sending.Next = wechat_sending.Next.DONE,
) -> None:
    """Store the attempt; a fallback also queues the SMS's own job, in the same transaction,
    so the SMS gets a full set of retries and cannot be lost between the two."""
    with database.write() as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        for name, value in values.items():
            setattr(notification, name, value)
        falls_back = again == wechat_sending.Next.FALL_BACK
        if falls_back and notification.status == NotificationStatus.PENDING:
            key = f"send:{notification.idempotency_key}:fallback"
            jobs.enqueue(session, SEND, {"notification_id": notification.id}, key=key)
        if "status" in values or falls_back:
            audit.record(
                session,
                Actor.system("notifier"),
                f"notification.{values.get('status', 'fell_back')}",
                subject="notification",
                subject_id=notification.id,
                order_id=notification.order_id,
                after={
                    "event": str(notification.event),
                    "channel": str(notification.channel),
                    "reason": str(notification.channel_reason),
                    "to": mask_phone(notification.recipient)
                    if notification.channel == Channel.SMS
                    else "openid",
                },
            )


def send_verification_code(config: NotificationConfig, payload: dict[str, Any]) -> None:
    """Job: the one-time code, now (no quiet hours: the customer is waiting for it)."""
    template = config.sms_templates.get("verification_code")
    if config.sms is None or not template:
        raise jobs.GiveUp("no SMS provider or verification template configured")
    try:
        config.sms.send(
            payload["phone"],
            template,
            {"code": payload["code"]},
            f"code:{payload['order_id']}:{payload['code']}",
        )
    except NotificationRejected as error:
        raise jobs.GiveUp(str(error)) from error
    except NotificationUnavailable as error:
        if error.maybe_sent:
            return  # a second code text would only confuse
        raise


@dataclass(frozen=True)
class MessageRecord:
    created_at: datetime
    sent_at: datetime | None
    event: str
    channel: str
    recipient: str
    status: str
    params: dict[str, Any]
    last_error: str | None
    reason: ChannelReason | None = None  # why this channel (None: not chosen yet)
    wechat_appid: str | None = None  # the app a WeChat message went through
    id: int = 0  # the outbox row, for staff to send it again (backend/notifications/resend.py)


def list_order_messages(database: Database, order_id: int) -> list[MessageRecord]:
    """Every message for an order, for support staff."""
    with database.read() as session:
        rows = session.scalars(
            select(Notification)
            .where(Notification.order_id == order_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
        ).all()
    return [
        MessageRecord(
            n.created_at,
            n.sent_at,
            str(n.event),
            n.channel,
            n.recipient,
            str(n.status),
            dict(n.params),
            n.last_error,
            n.channel_reason,
            n.wechat_appid,
            n.id,
        )
        for n in rows
    ]
