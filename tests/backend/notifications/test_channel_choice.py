"""The channel table: every combination of what is known picks one channel and says why."""

from __future__ import annotations

import itertools

import pytest

from backend.notifications.channel_choice import (
    WECHAT_ATTEMPTS,
    ChannelInputs,
    ConsentState,
    WeChatError,
    choose_channel,
)
from backend.notifications.models import Channel, ChannelReason

USABLE, NONE, REFUSED = ConsentState.USABLE, ConsentState.NONE, ConsentState.REFUSED
RETRYABLE = WeChatError.RETRYABLE


@pytest.mark.parametrize(
    ("inputs", "channel", "reason"),
    [
        (ChannelInputs(True, True, USABLE), Channel.WECHAT, ChannelReason.CONSENT_USED),
        (ChannelInputs(True, True, NONE), Channel.SMS, ChannelReason.NO_CONSENT),
        (ChannelInputs(True, True, REFUSED), Channel.SMS, ChannelReason.CONSENT_REFUSED),
        (ChannelInputs(True, False, USABLE), Channel.SMS, ChannelReason.NO_OPENID),
        (ChannelInputs(False, True, USABLE), Channel.SMS, ChannelReason.WECHAT_OFF),
        (
            ChannelInputs(True, True, USABLE, WeChatError.REFUSED),
            Channel.SMS,
            ChannelReason.REFUSED_43101,
        ),
        (
            ChannelInputs(True, True, USABLE, WeChatError.TERMINAL),
            Channel.SMS,
            ChannelReason.WECHAT_FAILED_TERMINAL,
        ),
        (
            ChannelInputs(True, True, USABLE, RETRYABLE, WECHAT_ATTEMPTS - 1),
            Channel.WECHAT,
            ChannelReason.CONSENT_USED,
        ),
        (
            ChannelInputs(True, True, USABLE, RETRYABLE, WECHAT_ATTEMPTS),
            Channel.SMS,
            ChannelReason.WECHAT_UNAVAILABLE,
        ),
        # A retry looks again: a refusal that came in meanwhile wins.
        (
            ChannelInputs(True, True, REFUSED, RETRYABLE, 1),
            Channel.SMS,
            ChannelReason.CONSENT_REFUSED,
        ),
    ],
)
def test_the_channel_and_its_reason_follow_the_table(inputs, channel, reason):
    choice = choose_channel(inputs)
    assert (choice.channel, choice.reason) == (channel, reason)


@pytest.mark.parametrize(
    "inputs",
    [
        ChannelInputs(configured, known, consent, error, attempts)
        for configured, known, consent, error, attempts in itertools.product(
            (True, False), (True, False), ConsentState, (None, *WeChatError), (0, WECHAT_ATTEMPTS)
        )
    ],
)
def test_wechat_is_chosen_only_with_an_app_an_openid_a_consent_and_no_lasting_failure(inputs):
    choice = choose_channel(inputs)
    may_wechat = (
        inputs.wechat_configured
        and inputs.openid_known
        and inputs.consent == USABLE
        and inputs.last_error in (None, RETRYABLE)
        and not (inputs.last_error == RETRYABLE and inputs.wechat_attempts >= WECHAT_ATTEMPTS)
    )
    assert (choice.channel == Channel.WECHAT) is may_wechat
