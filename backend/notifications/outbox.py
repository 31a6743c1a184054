"""The notification outbox: a row per message, written with the change that causes it.

A provider outage delays messages and loses none: the send is a job retried with
backoff. Each (shipment, event, channel) is notified at most once, by a unique key
that is also the provider's OutId. Nothing is sent at night; it waits for morning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor
from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.notifications.base import (
    NotificationRejected,
    NotificationUnavailable,
    SmsSender,
    WeChatSender,
)
from backend.notifications.models import (
    Channel,
    Notification,
    NotificationEvent,
    NotificationStatus,
)
from backend.orders.access import SHORT_CODE_LENGTH, hash_code, new_short_code
from backend.orders.masking import mask_phone
from backend.orders.models import AddressVersion, Customer, Order, ShortLink

log = logging.getLogger(__name__)

SEND = "notify.send"


@dataclass(frozen=True)
class NotificationConfig:
    """What sending needs: the providers, their template codes, the links, quiet hours.

    `link_lifetime` is how long the /t/ code in an SMS works (PORTAL_SHORT_LINK_DAYS).
    """

    sms: SmsSender | None = None
    wechat: WeChatSender | None = None
    sms_templates: Mapping[str, str] = field(default_factory=dict)
    wechat_templates: Mapping[str, str] = field(default_factory=dict)
    link_base: str = ""
    quiet_start: time = time(22, 0)
    quiet_end: time = time(8, 0)
    link_lifetime: timedelta = field(kw_only=True)


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
        select(
            Order.public_no,
            AddressVersion.phone,
            Customer.phone.label("buyer"),
            Customer.wechat_openid,
        )
        .join(Customer, Customer.id == Order.customer_id)
        .outerjoin(AddressVersion, AddressVersion.id == Order.current_address_id)
        .where(Order.id == order_id)
    ).one()
    now = utcnow()
    targets = [(Channel.SMS, sms_to or row.phone or row.buyer)]
    if row.wechat_openid:
        targets.append((Channel.WECHAT, row.wechat_openid))
    for channel, recipient in targets:
        key = f"n:{order_id}:{reference or shipment_id or 0}:{event}:{channel}"[:64]
        if session.scalar(select(Notification.id).where(Notification.idempotency_key == key)):
            continue
        params = {"order": row.public_no, **details}
        notification = Notification(
            order_id=order_id,
            shipment_id=shipment_id,
            event=event,
            channel=channel,
            recipient=recipient,
            params=params,
            idempotency_key=key,
            created_at=now,
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


def _deliver(
    config: NotificationConfig, notification: Notification, stored: Mapping[str, Any]
) -> str | None:
    """Hand the message to its provider. Returns the provider's message id."""
    params = _template_params(stored, config.link_base)
    if notification.channel == Channel.SMS and config.sms is not None:
        template = _sms_template(config, notification)
        if template:
            return config.sms.send(
                notification.recipient, template, params, notification.idempotency_key
            ).message_id
    if notification.channel == Channel.WECHAT and config.wechat is not None:
        template = config.wechat_templates.get(notification.event)
        if template:
            page = params.pop("link", None)
            return config.wechat.send(
                notification.recipient, template, page, params, notification.idempotency_key
            ).message_id
    raise _ChannelOff


class _ChannelOff(Exception):
    """No provider or template for this channel and event."""


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
    outcome: dict[str, Any] = {"attempts": notification.attempts + 1}
    params = _with_link(database, config, notification)
    try:
        outcome |= {
            "status": NotificationStatus.SENT,
            "sent_at": utcnow(),
            "provider_message_id": _deliver(config, notification, params),
        }
    except _ChannelOff:
        outcome |= {"status": NotificationStatus.SKIPPED}
    except NotificationRejected as error:
        outcome |= {"status": NotificationStatus.FAILED, "last_error": str(error)[:500]}
    except NotificationUnavailable as error:
        if not error.maybe_sent:
            _save(database, notification.id, {**outcome, "last_error": str(error)[:500]})
            raise
        # It may have reached the customer: better one missing message than two.
        outcome |= {"status": NotificationStatus.UNCERTAIN, "last_error": str(error)[:500]}
    _save(database, notification.id, outcome)


def _save(database: Database, notification_id: int, values: dict[str, Any]) -> None:
    with database.write() as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        for name, value in values.items():
            setattr(notification, name, value)
        if "status" in values:
            audit.record(
                session,
                Actor.system("notifier"),
                f"notification.{values['status']}",
                subject="notification",
                subject_id=notification.id,
                order_id=notification.order_id,
                after={
                    "event": str(notification.event),
                    "channel": str(notification.channel),
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
            str(n.channel),
            n.recipient,
            str(n.status),
            dict(n.params),
            n.last_error,
        )
        for n in rows
    ]
