"""Verifying a channel's delivery and handing its order to intake: nothing stored unless signed.

Shopify posts the order JSON signed with HMAC-SHA256 of the raw body. The Chinese
marketplaces reach us through their open-platform message push (or an ISV relay) as
form parameters signed with the platform's own scheme; the order itself rides in one of
those parameters as JSON (`trade` for Taobao/Tmall, `order` for JD and Pinduoduo,
`param_json` for Douyin), so the signature covers it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from backend import jobs
from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders.channels import PayloadInvalid, map_order
from backend.orders.channels import signatures as sig
from backend.orders.intake import (
    Arrival,
    IntakeResult,
    IntakeRules,
    ingest_channel_order,
    ingest_channel_orders,
)
from backend.orders.shops import ShopConfig


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


INGEST = "intake.ingest"  # job: a verified delivery, merged into the order model


def _accept(
    database: Database,
    shop: ShopConfig,
    order_json: str,
    raw: str,
    delivery_id: str | None,
) -> None:
    """Verified and well-formed: keep it as a job row (raw body included) and acknowledge.

    Platforms retry a slow answer, so the order model is updated by the worker, not while
    the channel waits; a burst is acknowledged at the speed of one insert.
    """
    channel = str(shop.channel)
    map_order(channel, _json_object(order_json))  # PayloadInvalid now, not in the worker
    # The receipt names this acknowledgement, so its job run twice (a worker killed after the
    # ingest committed) is recognised and records nothing again.
    payload = {
        "channel": channel,
        "raw": raw,
        "delivery_id": delivery_id,
        "receipt": secrets.token_hex(16),
    }
    if order_json != raw:
        # A Shopify body is its order: kept once, not twice (JSON-escaped and sealed again).
        payload["order"] = order_json
    with database.write() as session:
        jobs.enqueue(session, INGEST, payload | {"shop": shop.code})


def receive_shopify(
    database: Database,
    body: bytes,
    hmac_header: str | None,
    shop: ShopConfig,
    event_id: str | None,
) -> None:
    """`shop` is the store the URL names; only its own secret verifies the push."""
    secret = shop.webhook_secret
    if not secret or not sig.verify_shopify_hmac(body, hmac_header, secret):
        raise DeliveryNotAuthentic
    text = body.decode("utf-8", "replace")
    # Event ids are unique per store, not across stores: the shop is part of the key.
    delivery = f"shopify:{shop.code}:{event_id}"[:100] if event_id else None
    if delivery and shop.default:
        delivery = f"shopify:{event_id}"[:100]  # as keyed before shops
    _accept(database, shop, text, text, delivery)


def receive_form(database: Database, shop: ShopConfig, params: Mapping[str, str]) -> None:
    spec = FORM_CHANNELS.get(str(shop.channel))
    if spec is None:
        raise ChannelUnknown(str(shop.channel))
    secret = shop.webhook_secret
    if not secret or not params.get("sign") or not spec.verify(dict(params), secret):
        raise DeliveryNotAuthentic
    _accept(
        database,
        shop,
        params.get(spec.order_field) or "",
        json.dumps(dict(params), ensure_ascii=False),
        None,
    )


def ingest_delivery(
    database: Database, payload: dict[str, str | None], rules: IntakeRules
) -> IntakeResult:
    """One job's delivery; safe twice: a repeat is an older-or-equal update, or a known
    delivery id, or a receipt already taken."""
    arrival = _arrival(payload)
    return ingest_channel_order(
        database,
        arrival.order,
        arrival.raw,
        rules,
        arrival.actor,
        delivery_id=arrival.delivery_id,
        shop_code=arrival.shop_code,
        receipt=arrival.receipt,
    )


def _arrival(payload: dict[str, str | None]) -> Arrival:
    """Jobs enqueued before shops carry no shop (the order then has none), and jobs enqueued
    before receipts no receipt."""
    channel = str(payload["channel"])
    return Arrival(
        # No "order": the raw body is the order itself (a Shopify body is kept once).
        map_order(channel, _json_object(str(payload.get("order", payload["raw"])))),
        str(payload["raw"]),
        _actor(channel),
        delivery_id=payload.get("delivery_id"),
        shop_code=payload.get("shop"),
        receipt=payload.get("receipt"),
    )


def ingest_deliveries(
    database: Database, payloads: list[dict[str, str | None]], rules: IntakeRules
) -> list[BaseException | None]:
    """Batch job handler: the deliveries in one transaction, each job's outcome its own.

    A payload that no longer maps (a mapping changed since it was acknowledged) fails alone,
    as does an order the database refuses; the others are ingested.
    """
    outcomes: list[BaseException | None] = [None] * len(payloads)
    arrivals: list[Arrival] = []
    places: list[int] = []
    for place, payload in enumerate(payloads):
        try:
            arrivals.append(_arrival(payload))
        except Exception as error:
            outcomes[place] = error
            continue
        places.append(place)
    results = ingest_channel_orders(database, arrivals, rules) if arrivals else []
    for place, result in zip(places, results, strict=True):
        outcomes[place] = result if isinstance(result, BaseException) else None
    return outcomes
