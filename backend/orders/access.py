"""Customer access to an order: SMS short codes, signed WeChat/H5 links and the lookup form.

No order, channel or waybill number is ever a credential on its own: access comes
from a secret code, a signature, or a number plus the phone's last digits, rate limited.
What a link or lookup grants is a `CustomerSession`: a signed, stateless statement of
which order let the visitor in and that order's link version at the time. Every customer
page checks it against the order's current `link_version` inside the page's first query
(`SESSION_IS_CURRENT`), so revoking the order's links ends those sessions at once, in
every process; portal/sessions.py says why it is stateless.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Result, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.orders.models import AddressVersion, Customer, LookupAttempt, Order, ShortLink
from backend.orders.service import OrderNotFound
from backend.staff.permissions import Permission, check_permission

SHORT_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
SHORT_CODE_LENGTH = 8  # 55**8 ≈ 8e13 codes: unguessable, and short enough for a 70-character SMS
ORDER_LINK_SALT = "order-link.v1"

# Besides staff with MANAGE_LINKS, the `portal link` command and the worker issue links.
_LINK_ISSUERS = (ActorKind.SYSTEM,)

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


class SessionEnded(Exception):
    """The customer's session was granted through an order whose links have since been revoked."""


class GrantedBy(StrEnum):
    SHORT_LINK = "short_link"  # /t/<code> from an SMS
    SIGNED_LINK = "signed_link"  # /o/<token> from WeChat or H5
    LOOKUP = "lookup"  # order number + last four digits of the phone
    MINIPROGRAM = "miniprogram"  # the phone WeChat verified in the merchant's mini-program


@dataclass(frozen=True)
class CustomerSession:
    """What the customer's cookie says: whose orders, and how (and when) that was granted.

    `link_version` is the granting order's version when the link or lookup was used;
    the session lasts while the order still has that version.
    """

    customer_id: int
    order_id: int
    link_version: int
    granted_by: GrantedBy

    def parameters(self) -> dict[str, int]:
        """The bound values `SESSION_IS_CURRENT` (and the customer filter next to it) read."""
        return {
            "customer_id": self.customer_id,
            "session_order_id": self.order_id,
            "session_link_version": self.link_version,
        }


@dataclass(frozen=True)
class CustomerGrant:
    """What a valid link or lookup proves: this visitor may see this customer's orders."""

    session: CustomerSession
    public_no: str

    @property
    def customer_id(self) -> int:
        return self.session.customer_id

    @property
    def order_id(self) -> int:
        return self.session.order_id


_GRANTING_ORDER = aliased(Order, name="granting_order")
# True while the order that let this session in still has the link version it had then.
# A condition for a query a page runs anyway: checking the session costs no query.
SESSION_IS_CURRENT = exists().where(
    _GRANTING_ORDER.id == bindparam("session_order_id"),
    _GRANTING_ORDER.customer_id == bindparam("customer_id"),
    _GRANTING_ORDER.link_version == bindparam("session_link_version"),
)


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


def _grant(row: Any, granted_by: GrantedBy) -> CustomerGrant:
    """From a row with the order's id, customer_id, public_no and link_version, read together."""
    session = CustomerSession(row.customer_id, row.order_id, row.link_version, granted_by)
    return CustomerGrant(session, row.public_no)


_GRANT_COLUMNS = (
    Order.id.label("order_id"),
    Order.customer_id,
    Order.public_no,
    Order.link_version,
)


def issue_short_link(
    database: Database,
    order_id: int,
    actor: Actor,
    lifetime: timedelta,
    now: datetime | None = None,
) -> str:
    """A new SMS code for the order. Returns the code; only its hash is kept."""
    check_permission(actor, Permission.MANAGE_LINKS, also=_LINK_ISSUERS)
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
    # The code and the order's link version in one statement: a revocation committing
    # between two reads could otherwise pair a live code with the new version.
    with database.read() as session:
        row = session.execute(
            select(ShortLink.revoked_at, ShortLink.expires_at, *_GRANT_COLUMNS)
            .join(Order, Order.id == ShortLink.order_id)
            .where(ShortLink.code_hash == hash_code(code))
        ).first()
    if row is None:
        raise LinkInvalid
    if row.revoked_at is not None:
        raise LinkRevoked
    if row.expires_at <= now:
        raise LinkExpired
    return _grant(row, GrantedBy.SHORT_LINK)


def resolve_signed_link(database: Database, signer: LinkSigner, token: str) -> CustomerGrant:
    order_id, version = signer.read(token)
    with database.read() as session:
        row = session.execute(select(*_GRANT_COLUMNS).where(Order.id == order_id)).first()
    if row is None:
        raise LinkInvalid
    if version != row.link_version:
        raise LinkRevoked
    return _grant(row, GrantedBy.SIGNED_LINK)


def revoke_links(database: Database, order_id: int, actor: Actor) -> None:
    """Revoke every link issued so far for the order: signed ones by version, codes by flag.

    Bumping the version also ends every customer session granted through this order
    (by link or by lookup) before now: see `SESSION_IS_CURRENT`.
    """
    check_permission(actor, Permission.MANAGE_LINKS, also=_LINK_ISSUERS)
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
            after={
                "link_version": before + 1,
                "short_links_revoked": _rowcount(revoked),
                "customer_sessions_ended": True,
            },
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
        select(
            *_GRANT_COLUMNS,
            Customer.phone.label("buyer_phone"),
            AddressVersion.phone.label("recipient_phone"),
        )
        .join(Customer, Customer.id == Order.customer_id)
        .outerjoin(AddressVersion, AddressVersion.id == Order.current_address_id)
        .where(or_(func.upper(Order.public_no) == order_key, Order.channel_order_no == order_key))
    ).all()
    for row in rows:
        phones = {p for p in (row.buyer_phone, row.recipient_phone) if p}
        if any(secrets.compare_digest(p[-4:], phone_last4) for p in phones):
            return _grant(row, GrantedBy.LOOKUP)
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
