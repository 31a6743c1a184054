"""Customer access to an order: SMS short codes, signed WeChat/H5 links and the lookup form.

No order, channel or waybill number is ever a credential on its own: access comes
from a secret code, a signature, or a number plus the phone's last digits, rate limited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Result, delete, func, or_, select, update
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor
from backend.db import Database, utcnow
from backend.orders.models import AddressVersion, Customer, LookupAttempt, Order, ShortLink
from backend.orders.service import OrderNotFound

SHORT_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
SHORT_CODE_LENGTH = 8  # 55**8 ≈ 8e13 codes: unguessable, and short enough for a 70-character SMS
ORDER_LINK_SALT = "order-link.v1"

LOOKUP_FAILURES_PER_ORDER = 5
LOOKUP_FAILURE_WINDOW = timedelta(minutes=15)
LOOKUP_ATTEMPTS_PER_IP = 20
LOOKUP_IP_WINDOW = timedelta(minutes=1)


class LinkInvalid(Exception):
    """The link was tampered with, never existed, or points at nothing."""


class LinkExpired(Exception):
    """The link was genuine but is past its lifetime."""


class LinkRevoked(Exception):
    """The link was genuine but the merchant has revoked it."""


class LookupNotFound(Exception):
    """No order matches that number and phone; deliberately says nothing about which part."""


class LookupRateLimited(Exception):
    """Too many lookup attempts for this order number or from this address."""


@dataclass(frozen=True)
class CustomerGrant:
    """What a valid link or lookup proves: this visitor may see this customer's orders."""

    customer_id: int
    order_id: int
    public_no: str


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_short_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def is_well_formed_code(code: str) -> bool:
    return len(code) == SHORT_CODE_LENGTH and all(c in SHORT_CODE_ALPHABET for c in code)


class LinkSigner:
    """Signed, expiring order links; the newest key signs, every listed key verifies."""

    def __init__(self, secret_keys: list[str], max_age: timedelta) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is needed to sign links")
        # itsdangerous signs with the last key and accepts all of them.
        self._serializer = URLSafeTimedSerializer(list(secret_keys), salt=ORDER_LINK_SALT)
        self.max_age = max_age

    def sign(self, order_id: int, link_version: int) -> str:
        return self._serializer.dumps({"o": order_id, "v": link_version})

    def read(self, token: str) -> tuple[int, int]:
        try:
            payload = self._serializer.loads(token, max_age=int(self.max_age.total_seconds()))
        except SignatureExpired:
            raise LinkExpired from None
        except BadSignature:
            raise LinkInvalid from None
        if not isinstance(payload, dict):
            raise LinkInvalid
        order_id, version = payload.get("o"), payload.get("v")
        if not isinstance(order_id, int) or not isinstance(version, int):
            raise LinkInvalid
        return order_id, version


def _grant_for(session: Session, order_id: int) -> tuple[CustomerGrant, int] | None:
    row = session.execute(
        select(Order.customer_id, Order.public_no, Order.link_version).where(Order.id == order_id)
    ).first()
    if row is None:
        return None
    return CustomerGrant(row.customer_id, order_id, row.public_no), row.link_version


def issue_short_link(
    database: Database,
    order_id: int,
    actor: Actor,
    lifetime: timedelta,
    now: datetime | None = None,
) -> str:
    """A new SMS code for the order. Returns the code; only its hash is kept."""
    now = now or utcnow()
    code = new_short_code()
    with database.write() as session:
        if session.get(Order, order_id) is None:
            raise OrderNotFound(order_id)
        link = ShortLink(
            code_hash=hash_code(code), order_id=order_id, created_at=now, expires_at=now + lifetime
        )
        session.add(link)
        session.flush()
        audit.record(
            session,
            actor,
            "link.issued",
            subject="short_link",
            subject_id=link.id,
            order_id=order_id,
            after={"expires_at": link.expires_at.isoformat()},
        )
    return code


def resolve_short_link(database: Database, code: str, now: datetime | None = None) -> CustomerGrant:
    now = now or utcnow()
    if not is_well_formed_code(code):
        raise LinkInvalid
    with database.read() as session:
        link = session.scalars(
            select(ShortLink).where(ShortLink.code_hash == hash_code(code))
        ).first()
        if link is None:
            raise LinkInvalid
        if link.revoked_at is not None:
            raise LinkRevoked
        if link.expires_at <= now:
            raise LinkExpired
        found = _grant_for(session, link.order_id)
    if found is None:
        raise LinkInvalid
    return found[0]


def resolve_signed_link(database: Database, signer: LinkSigner, token: str) -> CustomerGrant:
    order_id, version = signer.read(token)
    with database.read() as session:
        found = _grant_for(session, order_id)
    if found is None:
        raise LinkInvalid
    grant, current_version = found
    if version != current_version:
        raise LinkRevoked
    return grant


def revoke_links(database: Database, order_id: int, actor: Actor) -> None:
    """Revoke every link issued so far for the order: signed ones by version, codes by flag."""
    now = utcnow()
    with database.write() as session:
        order = session.get(Order, order_id, with_for_update=True)
        if order is None:
            raise OrderNotFound(order_id)
        before = order.link_version
        order.link_version = before + 1
        revoked = session.execute(
            update(ShortLink)
            .where(ShortLink.order_id == order_id, ShortLink.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        audit.record(
            session,
            actor,
            "link.revoked_all",
            subject="order",
            subject_id=order_id,
            order_id=order_id,
            before={"link_version": before},
            after={"link_version": before + 1, "short_links_revoked": _rowcount(revoked)},
        )


def normalize_order_number(raw: str) -> str:
    return "".join(ch for ch in raw if ch.isprintable() and not ch.isspace()).upper()[:64]


def _lookup_is_limited(session: Session, order_key: str, ip: str, now: datetime) -> bool:
    from_ip = session.scalar(
        select(func.count())
        .select_from(LookupAttempt)
        .where(LookupAttempt.ip == ip, LookupAttempt.at > now - LOOKUP_IP_WINDOW)
    )
    if (from_ip or 0) >= LOOKUP_ATTEMPTS_PER_IP:
        return True
    failures = session.scalar(
        select(func.count())
        .select_from(LookupAttempt)
        .where(
            LookupAttempt.order_key == order_key,
            LookupAttempt.succeeded.is_(False),
            LookupAttempt.at > now - LOOKUP_FAILURE_WINDOW,
        )
    )
    return (failures or 0) >= LOOKUP_FAILURES_PER_ORDER


def _match_order(session: Session, order_key: str, phone_last4: str) -> CustomerGrant | None:
    rows = session.execute(
        select(Order.id, Order.customer_id, Order.public_no, Customer.phone, AddressVersion.phone)
        .join(Customer, Customer.id == Order.customer_id)
        .outerjoin(AddressVersion, AddressVersion.id == Order.current_address_id)
        .where(or_(func.upper(Order.public_no) == order_key, Order.channel_order_no == order_key))
    ).all()
    for order_id, customer_id, public_no, buyer_phone, recipient_phone in rows:
        phones = {p for p in (buyer_phone, recipient_phone) if p}
        if any(secrets.compare_digest(p[-4:], phone_last4) for p in phones):
            return CustomerGrant(customer_id, order_id, public_no)
    return None


def lookup_order(
    database: Database, order_number: str, phone_last4: str, ip: str, now: datetime | None = None
) -> CustomerGrant:
    """Order number + last four digits of the phone; every attempt is counted."""
    now = now or utcnow()
    order_key = normalize_order_number(order_number)
    digits = phone_last4.strip()
    with database.write() as session:
        if _lookup_is_limited(session, order_key, ip, now):
            raise LookupRateLimited
        grant = None
        if order_key and len(digits) == 4 and digits.isdigit():
            grant = _match_order(session, order_key, digits)
        session.add(LookupAttempt(order_key=order_key, ip=ip, succeeded=grant is not None, at=now))
    if grant is None:
        raise LookupNotFound
    return grant


def prune_lookup_attempts(database: Database, now: datetime | None = None) -> int:
    """Attempts older than the longest window are no longer evidence of anything."""
    now = now or utcnow()
    with database.write() as session:
        result = session.execute(
            delete(LookupAttempt).where(LookupAttempt.at < now - timedelta(days=1))
        )
    return _rowcount(result)


def _rowcount(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
