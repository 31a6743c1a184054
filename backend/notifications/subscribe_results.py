"""What a tap on wx.requestSubscribeMessage answered, per template, turned into consents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from backend.actors import Actor
from backend.db import Database
from backend.notifications.consents import record_consent, record_refusal
from backend.notifications.models import ConsentKind

# docs/protocols.md, "WeChat subscribe messages / Consents": at most 5 ids per call.
MAX_TEMPLATES = 5


class SubscribeAnswer(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"  # refused this time
    BAN = "ban"  # the template was banned by WeChat (the popup never showed it)
    FILTER = "filter"  # filtered as a duplicate title: the user was not asked


class SubscribeResultInvalid(ValueError):
    """Not a {template_id: answer} object WeChat could have produced."""


@dataclass(frozen=True)
class SubscribeOutcome:
    accepted: tuple[str, ...]
    refused: tuple[str, ...]
    ignored: tuple[str, ...]


def parse_subscribe_result(result: object) -> dict[str, SubscribeAnswer]:
    """The success result of wx.requestSubscribeMessage; `errMsg` is WeChat's own key."""
    if not isinstance(result, Mapping):
        raise SubscribeResultInvalid("not an object")
    answers: dict[str, SubscribeAnswer] = {}
    for template_id, answer in result.items():
        if template_id == "errMsg":
            continue
        if not isinstance(template_id, str) or not 1 <= len(template_id) <= 64:
            raise SubscribeResultInvalid("template id")
        if answer not in tuple(SubscribeAnswer):
            raise SubscribeResultInvalid(f"answer for {template_id}")
        answers[template_id] = SubscribeAnswer(answer)
    if not answers or len(answers) > MAX_TEMPLATES:
        raise SubscribeResultInvalid(f"1 to {MAX_TEMPLATES} templates")
    return answers


def record_subscribe_result(
    database: Database,
    customer_id: int,
    appid: str,
    answers: Mapping[str, SubscribeAnswer],
    actor: Actor,
) -> SubscribeOutcome:
    """Accepts become one-time consents, rejects refusals; ban and filter change nothing.

    Long-term (长期订阅) templates are for public-service categories, which a shop is not,
    so every acceptance counts as one-time. A ban is WeChat's decision about the template
    and a filter means the user was not asked: neither says what the customer wants.
    """
    accepted = tuple(t for t, a in answers.items() if a == SubscribeAnswer.ACCEPT)
    refused = tuple(t for t, a in answers.items() if a == SubscribeAnswer.REJECT)
    ignored = tuple(t for t in answers if t not in accepted and t not in refused)
    if accepted:
        record_consent(database, customer_id, appid, accepted, ConsentKind.ONE_TIME, actor)
    for template_id in refused:
        record_refusal(database, customer_id, appid, template_id, actor)
    return SubscribeOutcome(accepted, refused, ignored)
