"""Staff send a customer's message again: a sent or failed outbox row, once per click.

The copy is a new outbox row with its own idempotency key (so the provider's OutId is new)
and its own send job; the original row stays as it was, as the record of what happened.
The key carries the resend's number as the page showed it (`re:<id>:<n>`), so a double
click or a replayed form finds the row it made and sends nothing more, while the next
deliberate click (from the page after it) is the next number. The copy goes to the
order's current phone: when that is not a usable mobile, it is refused, not queued to fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from backend import audit, jobs
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.notifications.models import Notification, NotificationStatus
from backend.notifications.outbox import SEND
from backend.orders.masking import mask_phone
from backend.orders.models import AddressVersion, Customer, Order
from backend.phones import normalize_mobile
from backend.staff.permissions import Permission, check_permission

RESENDABLE = frozenset({NotificationStatus.SENT, NotificationStatus.FAILED})
KEY_PREFIX = "re:"


class ResendRefused(Exception):
    """Not this order's message, not sent or failed yet, a copy itself, or a stale number."""


class ContactUnusable(Exception):
    """The order's phone is missing or not a mainland mobile: nothing could reach it."""


@dataclass(frozen=True)
class Resent:
    notification_id: int
    repeated: bool  # this click's copy existed already; nothing new was queued


def _prefix(notification_id: int) -> str:
    return f"{KEY_PREFIX}{notification_id}:"


def resend_offers(database: Database, order_id: int) -> dict[int, int]:
    """Each message staff may send again -> the number its next copy will carry."""
    with database.read() as session:
        rows = session.execute(
            select(Notification.id, Notification.status, Notification.idempotency_key).where(
                Notification.order_id == order_id
            )
        ).all()
    copies: dict[int, int] = {}
    for _id, _status, key in rows:
        if key.startswith(KEY_PREFIX):
            original = int(key.split(":")[1])
            copies[original] = copies.get(original, 0) + 1
    return {
        row_id: copies.get(row_id, 0) + 1
        for row_id, status, key in rows
        if status in RESENDABLE and not key.startswith(KEY_PREFIX)
    }


def resend_message(
    database: Database, order_id: int, notification_id: int, number: int, actor: Actor
) -> Resent:
    check_permission(actor, Permission.ANSWER_CUSTOMERS)
    with database.write() as session:
        original = session.get(Notification, notification_id, with_for_update=True)
        if (
            original is None
            or original.order_id != order_id
            or original.idempotency_key.startswith(KEY_PREFIX)
            or original.status not in RESENDABLE
        ):
            raise ResendRefused(notification_id)
        key = f"{_prefix(notification_id)}{number}"
        made = session.scalar(select(Notification.id).where(Notification.idempotency_key == key))
        if made is not None:
            return Resent(made, repeated=True)
        copies = session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.idempotency_key.startswith(_prefix(notification_id)))
        )
        if number != int(copies or 0) + 1:
            raise ResendRefused(notification_id)  # a made-up or stale number
        row = session.execute(
            select(AddressVersion.phone, Customer.phone.label("buyer"))
            .select_from(Order)
            .join(Customer, Customer.id == Order.customer_id)
            .outerjoin(AddressVersion, AddressVersion.id == Order.current_address_id)
            .where(Order.id == order_id)
        ).one()
        phone = normalize_mobile(row.phone or row.buyer or "")
        if phone is None:
            raise ContactUnusable(order_id)
        copy = Notification(
            order_id=order_id,
            shipment_id=original.shipment_id,
            event=original.event,
            channel=original.channel,
            recipient=phone,
            params={k: v for k, v in original.params.items() if k != "code"},
            idempotency_key=key,
            created_at=utcnow(),
            # Staff asked for it now: quiet hours do not hold it until morning.
            urgent=True,
        )
        session.add(copy)
        session.flush()
        jobs.enqueue(session, SEND, {"notification_id": copy.id}, key=f"send:{key}")
        audit.record(
            session,
            actor,
            "notification.resent",
            subject="notification",
            subject_id=copy.id,
            order_id=order_id,
            before={"notification_id": notification_id, "status": str(original.status)},
            after={"event": str(original.event), "to": mask_phone(phone), "number": number},
        )
        return Resent(copy.id, repeated=False)
