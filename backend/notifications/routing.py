"""Where one queued message goes: the facts choose_channel needs, read from the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from backend.db import Database
from backend.notifications.base import WeChatSender
from backend.notifications.channel_choice import (
    WECHAT_ATTEMPTS,
    ChannelChoice,
    ChannelInputs,
    ConsentState,
    WeChatError,
    choose_channel,
)
from backend.notifications.consents import get_consent
from backend.notifications.models import Channel, ChannelReason, Notification
from backend.notifications.wechat_data import DEFAULT_LAYOUT
from backend.orders.models import CustomerWechatId, Order


@dataclass(frozen=True)
class WeChatApp:
    """One WeChat app that sends subscribe messages: its sender and its templates.

    The official account (公众号) sends through subscribe/bizsend, the mini-program through
    subscribe/send; each has its own openids and its own consents.
    """

    appid: str
    sender: WeChatSender
    templates: Mapping[str, str]  # event -> template_id
    layout: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LAYOUT))


# A choice made by an earlier attempt of this message, which stands: the fallback SMS
# is not second-guessed, or a WeChat that recovered could send it a second time.
_SETTLED = {
    ChannelReason.REFUSED_43101: WeChatError.REFUSED,
    ChannelReason.WECHAT_FAILED_TERMINAL: WeChatError.TERMINAL,
    ChannelReason.WECHAT_UNAVAILABLE: WeChatError.RETRYABLE,
}


@dataclass(frozen=True)
class Route:
    choice: ChannelChoice
    customer_id: int
    app: WeChatApp | None = None
    template_id: str | None = None
    openid: str | None = None


def _consent_state(database: Database, customer_id: int, appid: str, template: str) -> ConsentState:
    consent = get_consent(database, customer_id, appid, template)
    if consent is None:
        return ConsentState.NONE
    if consent.refused_at is not None:
        return ConsentState.REFUSED
    return ConsentState.USABLE if consent.can_send else ConsentState.NONE


def _openid(database: Database, customer_id: int, appid: str) -> str | None:
    statement = select(CustomerWechatId.openid).where(
        CustomerWechatId.customer_id == customer_id, CustomerWechatId.appid == appid
    )
    with database.read() as session:
        return session.scalar(statement)


def _customer_id(database: Database, order_id: int) -> int:
    with database.read() as session:
        customer_id = session.scalar(select(Order.customer_id).where(Order.id == order_id))
    assert customer_id is not None
    return customer_id


def _previous_error(notification: Notification) -> WeChatError | None:
    reason = notification.channel_reason
    if reason in _SETTLED:
        return _SETTLED[reason]
    return WeChatError.RETRYABLE if reason == ChannelReason.WECHAT_RETRY else None


def plan_route(database: Database, apps: Sequence[WeChatApp], notification: Notification) -> Route:
    """The channel for this attempt. The first app (in the settings' order) that may send
    wins; when none may, the reason is the first app's, so staff see what was missing."""
    customer_id = _customer_id(database, notification.order_id)
    if notification.channel_reason == ChannelReason.BOTH_CHANNELS:
        return Route(ChannelChoice(Channel.SMS, ChannelReason.BOTH_CHANNELS), customer_id)
    error = _previous_error(notification)
    attempts = notification.wechat_attempts
    settled = error is not None and (error != WeChatError.RETRYABLE or attempts >= WECHAT_ATTEMPTS)
    if settled:
        inputs = ChannelInputs(True, True, ConsentState.NONE, error, attempts)
        return Route(choose_channel(inputs), customer_id)
    # A retry stays with the app it started with: its consent is the one being used.
    candidates = [a for a in apps if notification.wechat_appid in (None, a.appid)]
    first: Route | None = None
    for app in candidates:
        template = app.templates.get(notification.event)
        if not template:
            continue
        openid = _openid(database, customer_id, app.appid)
        consent = ConsentState.NONE
        if openid is not None:
            consent = _consent_state(database, customer_id, app.appid, template)
        choice = choose_channel(ChannelInputs(True, openid is not None, consent, error, attempts))
        route = Route(choice, customer_id, app, template, openid)
        if choice.channel == Channel.WECHAT:
            return route
        first = first or route
    if first is not None:
        return first
    return Route(choose_channel(ChannelInputs(False, False, ConsentState.NONE)), customer_id)
