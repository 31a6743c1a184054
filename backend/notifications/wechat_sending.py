"""One WeChat attempt of a queued message, and what its answer means for the next step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.notifications.base import NotificationRejected, NotificationUnavailable
from backend.notifications.channel_choice import WECHAT_ATTEMPTS
from backend.notifications.consents import record_refusal, use_consent
from backend.notifications.models import Channel, ChannelReason, Notification, NotificationStatus
from backend.notifications.routing import Route
from backend.notifications.wechat_data import build_template_data, message_values

NOTIFIER = Actor.system("notifier")
# The errcode of a refusal (docs/protocols.md, "WeChat subscribe messages / WeChat error
# codes"): the customer said no, or the one-time acceptance was used up.
REFUSED_ERRCODE = "43101"


class Next(StrEnum):
    DONE = "done"  # sent, or may have been: nothing more for this transition
    RETRY = "retry"  # WeChat was unavailable: the job tries WeChat again later
    FALL_BACK = "fall_back"  # WeChat will not take it: the SMS goes instead


@dataclass(frozen=True)
class Attempt:
    next: Next
    values: dict[str, Any]  # for the notification row
    error: Exception | None = None


def _fallback(reason: ChannelReason, error: Exception, attempts: int) -> Attempt:
    values = {"channel": Channel.SMS, "channel_reason": reason, "wechat_attempts": attempts}
    return Attempt(Next.FALL_BACK, values | {"last_error": str(error)[:500]}, error)


def attempt(route: Route, notification: Notification, now: datetime | None = None) -> Attempt:
    """Send by WeChat once and classify the answer; the caller stores and acts on it."""
    app, template, openid = route.app, route.template_id, route.openid
    assert app is not None and template is not None and openid is not None
    attempts = notification.wechat_attempts + 1
    base: dict[str, Any] = {"channel": Channel.WECHAT, "wechat_appid": app.appid}
    base |= {"wechat_template_id": template, "wechat_attempts": attempts}
    values = message_values(notification.event, notification.params, notification.created_at)
    try:
        data = build_template_data(app.layout, values)
        result = app.sender.send(openid, template, None, data, notification.idempotency_key)
    except NotificationRejected as error:
        if error.code == REFUSED_ERRCODE:
            return _fallback(ChannelReason.REFUSED_43101, error, attempts)
        return _fallback(ChannelReason.WECHAT_FAILED_TERMINAL, error, attempts)
    except NotificationUnavailable as error:
        if error.maybe_sent:
            # It may have reached the customer: better one missing message than two.
            status = {"status": NotificationStatus.UNCERTAIN, "last_error": str(error)[:500]}
            return Attempt(Next.DONE, base | status, error)
        if attempts >= WECHAT_ATTEMPTS:
            return _fallback(ChannelReason.WECHAT_UNAVAILABLE, error, attempts)
        retry = {"channel_reason": ChannelReason.WECHAT_RETRY, "last_error": str(error)[:500]}
        return Attempt(Next.RETRY, base | retry, error)
    sent = {"status": NotificationStatus.SENT, "sent_at": now or utcnow()}
    sent["provider_message_id"] = result.message_id
    return Attempt(Next.DONE, base | sent)


def settle_consent(database: Database, route: Route, outcome: Attempt) -> None:
    """After the row is stored: an accepted message uses its consent, a 43101 refuses it.

    In this order on purpose: a worker dying in between leaves a consent unused (the next
    send then meets 43101 and goes by SMS), never a message sent twice.
    """
    assert route.app is not None and route.template_id is not None
    sent = outcome.values.get("status") == NotificationStatus.SENT
    reason = outcome.values.get("channel_reason")
    if sent:
        use_consent(database, route.customer_id, route.app.appid, route.template_id, NOTIFIER)
    elif reason == ChannelReason.REFUSED_43101:
        record_refusal(database, route.customer_id, route.app.appid, route.template_id, NOTIFIER)
