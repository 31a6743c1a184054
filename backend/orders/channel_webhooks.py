"""Verifying a channel's delivery and handing its order to intake: nothing stored unless signed.

Shopify posts the order JSON signed with HMAC-SHA256 of the raw body. The Chinese
marketplaces reach us through their open-platform message push (or an ISV relay) as
form parameters signed with the platform's own scheme; the order itself rides in one of
those parameters as JSON (`trade` for Taobao/Tmall, `order` for JD and Pinduoduo,
`param_json` for Douyin), so the signature covers it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders.channels import PayloadInvalid, map_order
from backend.orders.channels import signatures as sig
from backend.orders.intake import IntakeResult, IntakeRules, ingest_channel_order


class DeliveryNotAuthentic(Exception):
    """Signature missing or wrong, or no secret configured for the channel: refused."""


class ChannelUnknown(Exception):
    """No such channel endpoint."""


Verifier = Callable[[Mapping[str, str | None], str], bool]


@dataclass(frozen=True)
class SignedForm:
    verify: Verifier
    order_field: str


FORM_CHANNELS: dict[str, SignedForm] = {
    "taobao": SignedForm(sig.verify_top_signature, "trade"),
    "tmall": SignedForm(sig.verify_top_signature, "trade"),
    "jd": SignedForm(sig.verify_jd_signature, "order"),
    "pinduoduo": SignedForm(sig.verify_pdd_signature, "order"),
    "douyin": SignedForm(sig.verify_douyin_signature, "param_json"),
}


def _actor(channel: str) -> Actor:
    return Actor(ActorKind.CHANNEL, channel, channel="webhook")


def _json_object(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError:
        raise PayloadInvalid("payload", "not JSON") from None
    if not isinstance(value, dict):
        raise PayloadInvalid("payload", "not a JSON object")
    return value


def receive_shopify(
    database: Database,
    body: bytes,
    hmac_header: str | None,
    secret: str,
    event_id: str | None,
    rules: IntakeRules,
) -> IntakeResult:
    if not secret or not sig.verify_shopify_hmac(body, hmac_header, secret):
        raise DeliveryNotAuthentic
    text = body.decode("utf-8", "replace")
    order = map_order("shopify", _json_object(text))
    return ingest_channel_order(
        database,
        order,
        text,
        rules,
        _actor("shopify"),
        delivery_id=f"shopify:{event_id}"[:100] if event_id else None,
    )


def receive_form(
    database: Database, channel: str, params: Mapping[str, str], secret: str, rules: IntakeRules
) -> IntakeResult:
    spec = FORM_CHANNELS.get(channel)
    if spec is None:
        raise ChannelUnknown(channel)
    if not secret or not params.get("sign") or not spec.verify(dict(params), secret):
        raise DeliveryNotAuthentic
    text = params.get(spec.order_field) or ""
    order = map_order(channel, _json_object(text))
    return ingest_channel_order(
        database, order, json.dumps(dict(params), ensure_ascii=False), rules, _actor(channel)
    )
