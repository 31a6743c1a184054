"""What of a customer's phone and street a staff page shows: masked, unless revealed for a reason.

Staff pages show 138****8000 and no street by default. A member whose role may reveal
(REVEAL_PERSONAL_DATA) asks for one order's contact with a reason; the reveal is an
audit event (who, when, why, which fields), and the clear values are in that one answer
only: nothing stays revealed in a session. Finance never sees a street (the seed
articles' rule: money people need amounts, not addresses), not even by revealing.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from backend import audit
from backend.actors import Actor
from backend.db import Database
from backend.orders.masking import mask_phone, mask_street
from backend.orders.models import Order
from backend.orders.queries import StaffOrderView
from backend.staff.models import Role
from backend.staff.permissions import Permission, check_permission

REVEALED = "personal_data.revealed"
MIN_REASON = 4
MAX_REASON = 200
# Audit details that are a phone or a street (an address change's before and after).
PHONE_KEYS = frozenset({"phone", "recipient_phone", "buyer_phone", "customer_phone"})
STREET_KEYS = frozenset({"street", "address"})


class Field(StrEnum):
    PHONE = "phone"
    STREET = "street"


class ReasonRequired(ValueError):
    """A reveal needs a reason of at least MIN_REASON characters."""


class NoSuchOrder(LookupError):
    pass


def may_see(role: Role | None, wanted: frozenset[Field]) -> frozenset[Field]:
    """What of `wanted` this role may be shown; finance never a street."""
    if role == Role.FINANCE:
        wanted = wanted - {Field.STREET}
    return wanted


def _masked_details(
    values: dict[str, Any] | None, shown: frozenset[Field]
) -> dict[str, Any] | None:
    if values is None:
        return None
    masked: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            masked[key] = _masked_details(value, shown)
        elif key in PHONE_KEYS and Field.PHONE not in shown and isinstance(value, str):
            masked[key] = mask_phone(value)
        elif key in STREET_KEYS and Field.STREET not in shown and isinstance(value, str):
            masked[key] = mask_street(value)
        else:
            masked[key] = value
    return masked


def for_staff(
    view: StaffOrderView, role: Role | None, shown: frozenset[Field] = frozenset()
) -> StaffOrderView:
    """The order page's view with what this role may not see (or has not revealed) masked."""
    shown = may_see(role, shown)
    phone = (lambda value: value) if Field.PHONE in shown else mask_phone
    street = (lambda value: value) if Field.STREET in shown else mask_street
    return replace(
        view,
        customer_phone=phone(view.customer_phone),
        summary=replace(view.summary, phone=phone(view.summary.phone)),
        addresses=tuple(
            replace(address, phone=phone(address.phone), street=street(address.street))
            for address in view.addresses
        ),
        audit=tuple(
            replace(
                event,
                before=_masked_details(event.before, shown),
                after=_masked_details(event.after, shown),
            )
            for event in view.audit
        ),
    )


def mask_recipients(messages: list[Any], role: Role | None, shown: frozenset[Field]) -> list[Any]:
    """The message log's SMS recipients (phones) masked like the rest of the page."""
    if Field.PHONE in may_see(role, shown):
        return messages
    return [
        replace(message, recipient=mask_phone(message.recipient))
        if message.recipient and message.recipient[:1].isdigit()
        else message
        for message in messages
    ]


def reveal_contact(
    database: Database, order_id: int, reason: str, actor: Actor
) -> frozenset[Field]:
    """Record why this member looks at the order's phone and street; returns what to show."""
    check_permission(actor, Permission.REVEAL_PERSONAL_DATA)
    reason = " ".join(reason.split())[:MAX_REASON]
    if len(reason) < MIN_REASON:
        raise ReasonRequired(reason)
    fields = may_see(actor.role, frozenset(Field))
    with database.write() as session:
        order = session.scalar(select(Order.id).where(Order.id == order_id))
        if order is None:
            raise NoSuchOrder(order_id)
        audit.record(
            session,
            actor,
            REVEALED,
            subject="order",
            subject_id=order_id,
            order_id=order_id,
            after={"reason": reason, "fields": sorted(fields)},
        )
    return fields
