"""Waybills pushed by the merchant's ERP or WMS: verified, parsed, then one parcel at a time.

The push is ours to define (docs/protocols.md, "ERP and WMS waybill push"): a JSON body
signed with HMAC-SHA256 over "<unix seconds>.<raw body>" using a shared secret, the time in
`X-Portal-Timestamp` and `sha256=<hex>` in `X-Portal-Signature`. A signature older than
five minutes is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.fulfilment.outside import OutsideParcel, ParcelOutcome, record_outside_parcels
from backend.fulfilment.waybills import WaybillSource

MAX_AGE = timedelta(minutes=5)
# One request is one parcel or a batch of them; a day's outbound of a small shop fits.
MAX_PARCELS = 500
MAX_LINES = 200
_MAX_TEXT = 64


class PushNotAuthentic(Exception):
    """No secret configured, or the signature or its time is missing, wrong or stale."""


class PushMalformed(ValueError):
    """The body is not the JSON we take; `field` names the first bad part."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class PushAnswer:
    results: list[ParcelOutcome]


def build_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: datetime
) -> bool:
    if not secret or not timestamp or not signature or not timestamp.isdigit():
        return False
    sent = datetime.fromtimestamp(int(timestamp), UTC) if len(timestamp) <= 11 else None
    # A clock a little ahead of ours is fine; a signature from the far future is not.
    if sent is None or abs(now - sent) > MAX_AGE:
        return False
    return hmac.compare_digest(build_signature(secret, timestamp, body), signature.strip())


def _text(item: dict[str, object], key: str, field: str, *, required: bool = True) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > _MAX_TEXT or (required and not value.strip()):
        raise PushMalformed(field)
    return value.strip()


def _lines(value: object, field: str) -> tuple[tuple[str, int], ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_LINES:
        raise PushMalformed(field)
    lines = []
    for index, line in enumerate(value):
        if not isinstance(line, dict):
            raise PushMalformed(f"{field}[{index}]")
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity < 10**5:
            raise PushMalformed(f"{field}[{index}].quantity")
        lines.append((_text(line, "sku", f"{field}[{index}].sku"), quantity))
    return tuple(lines)


def _time(value: object, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PushMalformed(field)
    # A parcel can't have left in the future; an ERP clock running ahead is taken as now.
    return min(parsed.astimezone(UTC), utcnow())


def _parcel(item: object, field: str) -> OutsideParcel:
    if not isinstance(item, dict):
        raise PushMalformed(field)
    return OutsideParcel(
        order=_text(item, "order", f"{field}.order"),
        # A push without a carrier is refused per parcel (missing_carrier), not as a whole.
        carrier=_text(item, "carrier", f"{field}.carrier", required=False),
        waybill=_text(item, "waybill", f"{field}.waybill"),
        lines=_lines(item.get("lines"), f"{field}.lines"),
        shipped_at=_time(item.get("shipped_at"), f"{field}.shipped_at"),
    )


def parse_push(body: bytes) -> list[OutsideParcel]:
    """One parcel object, or {"parcels": [...]}; every field checked before anything is written."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise PushMalformed("body") from None
    if not isinstance(payload, dict):
        raise PushMalformed("body")
    if "parcels" not in payload:
        return [_parcel(payload, "parcel")]
    items = payload["parcels"]
    if not isinstance(items, list) or not items or len(items) > MAX_PARCELS:
        raise PushMalformed("parcels")
    return [_parcel(item, f"parcels[{index}]") for index, item in enumerate(items)]


def receive_push(
    database: Database,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    secret: str,
) -> PushAnswer:
    if not verify_signature(secret, timestamp, signature, body, utcnow()):
        raise PushNotAuthentic
    found = parse_push(body)
    actor = Actor(ActorKind.SYSTEM, "erp", channel="erp")
    return PushAnswer(record_outside_parcels(database, found, actor, WaybillSource.ERP))
