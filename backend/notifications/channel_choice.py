"""Which channel carries one transition's message, and why: a pure table, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backend.notifications.models import Channel, ChannelReason

# WeChat retryable failures (outage, busy, open breaker) are retried this many times in
# all before the message goes by SMS. With the queue's backoff (10 s, 20 s, 40 s ...) that
# is about five minutes of waiting; the SMS then gets a job (and retries) of its own.
WECHAT_ATTEMPTS = 5


class ConsentState(StrEnum):
    USABLE = "usable"  # a one-time acceptance left, or a long-term consent
    NONE = "none"  # never asked, or every acceptance used
    REFUSED = "refused"  # popup "reject", a switch-off, or a 43101 on an earlier send


class WeChatError(StrEnum):
    """How the previous WeChat attempt for this message ended, when it failed."""

    RETRYABLE = "retryable"  # transport, 5xx, busy codes, open breaker: worth another try
    REFUSED = "refused"  # 43101: the customer refused or the acceptance was used up
    TERMINAL = "terminal"  # any other refusal: bad template, openid, data (47003)


@dataclass(frozen=True)
class ChannelInputs:
    wechat_configured: bool  # an app with a sender and a template for this event
    openid_known: bool  # customer_wechat_ids holds the customer's openid for that app
    consent: ConsentState
    last_error: WeChatError | None = None
    wechat_attempts: int = 0


@dataclass(frozen=True)
class ChannelChoice:
    channel: Channel
    reason: ChannelReason


def choose_channel(inputs: ChannelInputs) -> ChannelChoice:
    """WeChat when it may and can be used, SMS otherwise; the reason is what staff see."""
    if inputs.last_error == WeChatError.REFUSED:
        return ChannelChoice(Channel.SMS, ChannelReason.REFUSED_43101)
    if inputs.last_error == WeChatError.TERMINAL:
        return ChannelChoice(Channel.SMS, ChannelReason.WECHAT_FAILED_TERMINAL)
    retrying = inputs.last_error == WeChatError.RETRYABLE
    if retrying and inputs.wechat_attempts >= WECHAT_ATTEMPTS:
        return ChannelChoice(Channel.SMS, ChannelReason.WECHAT_UNAVAILABLE)
    # A retry looks again: the customer may have refused, or the app been switched off.
    if not inputs.wechat_configured:
        return ChannelChoice(Channel.SMS, ChannelReason.WECHAT_OFF)
    if not inputs.openid_known:
        return ChannelChoice(Channel.SMS, ChannelReason.NO_OPENID)
    if inputs.consent == ConsentState.REFUSED:
        return ChannelChoice(Channel.SMS, ChannelReason.CONSENT_REFUSED)
    if inputs.consent == ConsentState.NONE:
        return ChannelChoice(Channel.SMS, ChannelReason.NO_CONSENT)
    return ChannelChoice(Channel.WECHAT, ChannelReason.CONSENT_USED)
