"""Cancel an order: at once before the pack scan, by voiding the waybill after it.

The path is decided from the order alone (`decide_path`), so the customer's page offers
exactly what the verb will do:

- unpaid: cancelled, the reserved units released;
- paid, not packed: cancelled, released, and the whole payment refunded through the
  original gateway (payouts.start_refund: its key is stored first, so a retry after a
  timeout never pays twice);
- packed, not collected: every waybill booked here is voided at the carrier first (outside
  the transaction, as labels.void_label does), then the order is cancelled and refunded;
  the units stay reserved until the warehouse has opened the parcel (`confirm_unpacked`),
  so they are back on sale exactly once, and only once they are on the shelf;
- a parcel with a carrier: not a cancel but an intercept (the in-transit refund);
- paid through a marketplace: its after-sale is the platform's, so nothing happens here.

One cancel per order (a unique row): a repeated or racing request finds it and gets the
same outcome, and the refund is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.fulfilment import labels
from backend.fulfilment.packing import PackRefused
from backend.logistics.waybills.base import CarrierRejected
from backend.logistics.waybills.registry import WaybillBookers
from backend.notifications import outbox
from backend.notifications.models import NotificationEvent
from backend.orders import inventory
from backend.orders.lifecycle import OrderAction, OrderStatus
from backend.orders.models import Order, PaymentMethod
from backend.orders.service import OrderNotFound, transition
from backend.refunds import payouts
from backend.refunds.cancel_lifecycle import CancelAction, CancelPath, CancelStatus, next_status
from backend.refunds.models import OrderCancellation, Refund, RefundState
from backend.staff.permissions import Permission, check_permission

# Why the customer cancels; the portal words each one. Kept short and closed, so the
# figures can count them and nothing free-text lands on the staff queue unread.
REASONS = ("changed_mind", "wrong_item", "address", "too_slow", "other")

_PATH_BY_STATUS: dict[OrderStatus, CancelPath] = {
    OrderStatus.PENDING_PAYMENT: CancelPath.UNPAID,
    OrderStatus.PAID: CancelPath.PAID,
    OrderStatus.PICKING: CancelPath.PAID,
    OrderStatus.PACKED: CancelPath.PACKED,
    OrderStatus.PARTIALLY_SHIPPED: CancelPath.IN_TRANSIT,
    OrderStatus.SHIPPED: CancelPath.IN_TRANSIT,
}
SELF_SERVICE_PATHS = frozenset({CancelPath.UNPAID, CancelPath.PAID, CancelPath.PACKED})
_ACTION = {CancelPath.PACKED: OrderAction.CANCEL_AFTER_PACK}


class CancelNotAllowed(Exception):
    """This order cannot be cancelled here; `path` says what the customer can do instead."""

    def __init__(self, path: CancelPath) -> None:
        super().__init__(f"no cancel here: {path}")
        self.path = path


class CancelReasonInvalid(ValueError):
    """The reason is not one of REASONS (a tampered form)."""


class CancelNotYours(Exception):
    """A customer acting on another order's cancel: the routes answer 404."""


@dataclass(frozen=True)
class CancelOutcome:
    path: CancelPath
    status: CancelStatus
    refund_fen: int
    repeated: bool = False  # the order was cancelled already; nothing was done again


def decide_path(status: OrderStatus, payment_method: PaymentMethod | None) -> CancelPath:
    """What a cancel of an order in this state would do (pure: the page and the verb agree)."""
    path = _PATH_BY_STATUS.get(status, CancelPath.NONE)
    if path == CancelPath.NONE:
        return path
    if payment_method == PaymentMethod.PLATFORM:
        return CancelPath.PLATFORM
    paid = status != OrderStatus.PENDING_PAYMENT
    if paid and path != CancelPath.IN_TRANSIT and payment_method not in payouts.GATEWAY_FOR:
        # Paid some way we cannot refund through (a bank transfer): a person must handle it.
        return CancelPath.NONE
    return path


def _authorize(actor: Actor, order: Order) -> None:
    if actor.kind == ActorKind.CUSTOMER:
        # Customer actors are named after the order whose page they act from.
        if actor.identifier != f"customer:{order.public_no}":
            raise CancelNotYours(f"{actor.identifier} on order {order.id}")
        return
    # A staff cancel stops the order and moves money back: support's and the supervisor's
    # power (CANCEL_ORDERS), not the warehouse's, which would only void its own labels.
    check_permission(actor, Permission.CANCEL_ORDERS, also=(ActorKind.SYSTEM,))


def _outcome(row: OrderCancellation, repeated: bool) -> CancelOutcome:
    return CancelOutcome(
        CancelPath(row.path), CancelStatus(row.status), row.refund_fen, repeated=repeated
    )


def _existing(session: Session, order_id: int) -> OrderCancellation | None:
    return session.scalars(
        select(OrderCancellation).where(OrderCancellation.order_id == order_id)
    ).first()


def cancel_order(
    database: Database,
    bookers: WaybillBookers,
    order_id: int,
    actor: Actor,
    reason: str,
    now: datetime | None = None,
    note: str = "",
) -> CancelOutcome:
    """`note` is staff's free text beside the reason (kept in the audit, never shown out)."""
    if reason not in REASONS:
        raise CancelReasonInvalid(reason)
    with database.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise OrderNotFound(order_id)
        _authorize(actor, order)
        done = _existing(session, order_id)
        if done is not None:
            return _outcome(done, repeated=True)
        path = decide_path(OrderStatus(order.status), order.payment_method)
    if path not in SELF_SERVICE_PATHS:
        raise CancelNotAllowed(path)
    if path == CancelPath.PACKED:
        _void_labels(database, bookers, order_id)
    return _cancel(database, order_id, actor, reason, now or utcnow(), note[:200])


def _void_labels(database: Database, bookers: WaybillBookers, order_id: int) -> None:
    """At the carrier first: an order is cancelled only once no label of it can travel."""
    for shipment_id in sorted(labels.list_live_labels(database, order_id)):
        try:
            labels.void_label(database, bookers, shipment_id, Actor.system("cancel"), "订单已取消")
        except (PackRefused, CarrierRejected):
            # The carrier has (or says it has) the parcel: only an intercept can stop it.
            raise CancelNotAllowed(CancelPath.IN_TRANSIT) from None


def _cancel(
    database: Database, order_id: int, actor: Actor, reason: str, now: datetime, note: str
) -> CancelOutcome:
    with database.write() as session:
        order = session.get(Order, order_id, with_for_update=True)
        assert order is not None
        done = _existing(session, order_id)
        if done is not None:  # the other of two racing requests won
            return _outcome(done, repeated=True)
        path = decide_path(OrderStatus(order.status), order.payment_method)
        if path not in SELF_SERVICE_PATHS:
            raise CancelNotAllowed(path)  # it moved on (packed, collected) while we voided
        before = order.status
        transition(session, order, _ACTION.get(path, OrderAction.CANCEL), actor, now)
        if path != CancelPath.PACKED:
            inventory.release(session, order_id)
        owed = order.paid_fen - payouts.committed_fen(session, order_id)
        row = OrderCancellation(
            order_id=order_id,
            path=path,
            status=CancelStatus.DONE,
            reason=reason,
            requested_by=f"{actor.kind}:{actor.identifier}"[:64],
            refund_fen=max(owed, 0),
            created_at=now,
            updated_at=now,
        )
        if owed > 0:
            refund = payouts.start_refund(session, order_id, owed, actor, now=now)
            row.refund_id, row.status = refund.id, CancelStatus.REFUNDING
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "order.cancelled_by_request",
            subject="cancellation",
            subject_id=row.id,
            order_id=order_id,
            before={"status": str(before)},
            after={"path": str(path), "reason": reason, "refund_fen": row.refund_fen}
            | ({"note": note} if note else {}),
            at=now,
        )
        return _outcome(row, repeated=False)


def refund_settled(session: Session, refund: Refund) -> None:
    """Inside payouts' SETTLED job: the cancel follows the money, and the customer hears."""
    row = session.scalars(
        select(OrderCancellation).where(OrderCancellation.refund_id == refund.id).with_for_update()
    ).first()
    if row is None or row.status != CancelStatus.REFUNDING:
        return  # not a cancel's refund, or the job ran before
    succeeded = refund.status == RefundState.SUCCESS
    action = CancelAction.REFUND_SUCCEEDED if succeeded else CancelAction.REFUND_FAILED
    row.status = next_status(CancelStatus(row.status), action)
    audit.record(
        session,
        Actor.system("payouts"),
        f"cancellation.{action}",
        subject="cancellation",
        subject_id=row.id,
        order_id=row.order_id,
        after={"status": str(row.status), "refund_fen": refund.amount_fen},
    )
    if succeeded:
        yuan, cents = divmod(refund.amount_fen, 100)
        outbox.notify(
            session,
            row.order_id,
            NotificationEvent.REFUND_SUCCEEDED,
            details={"amount": f"{yuan}.{cents:02d}"},
            reference=f"r{refund.id}",
        )


def retry_refund(database: Database, cancellation_id: int, actor: Actor) -> int:
    """Finance sends a failed cancel refund again: a new row and key for what is still owed."""
    check_permission(actor, Permission.REVIEW_REFUNDS)
    with database.write() as session:
        row = session.get(OrderCancellation, cancellation_id, with_for_update=True)
        if row is None:
            raise CancellationNotFound(cancellation_id)
        status = next_status(CancelStatus(row.status), CancelAction.RETRY_REFUND)
        order = session.get(Order, row.order_id, with_for_update=True)
        assert order is not None
        owed = order.paid_fen - payouts.committed_fen(session, order.id)
        refund = payouts.start_refund(session, order.id, owed, actor)
        row.refund_id, row.status = refund.id, status
        audit.record(
            session,
            actor,
            "cancellation.retry_refund",
            subject="cancellation",
            subject_id=row.id,
            order_id=row.order_id,
            after={"refund_fen": owed},
        )
        return refund.id


class CancellationNotFound(LookupError):
    pass


def confirm_unpacked(
    database: Database, cancellation_id: int, actor: Actor, now: datetime | None = None
) -> bool:
    """拆包上架: the parcel of a cancelled packed order is open and its units are shelved.

    The reservation is released here and only here, so the units are back on sale once;
    False when somebody confirmed it already.
    """
    check_permission(actor, Permission.SCAN_PARCELS)
    now = now or utcnow()
    with database.write() as session:
        row = session.get(OrderCancellation, cancellation_id, with_for_update=True)
        if row is None or row.path != CancelPath.PACKED:
            raise CancellationNotFound(cancellation_id)
        if row.unpacked_at is not None:
            return False
        released = inventory.release(session, row.order_id)
        row.unpacked_at, row.unpacked_by = now, actor.identifier[:64]
        audit.record(
            session,
            actor,
            "cancellation.unpacked",
            subject="cancellation",
            subject_id=row.id,
            order_id=row.order_id,
            after={"units_released": released},
            at=now,
        )
        return True


@dataclass(frozen=True)
class CancelPreview:
    """What a staff cancel of this order would do, for the order page before they confirm."""

    path: CancelPath
    refund_fen: int  # what would go back (paid minus refunds already committed)
    done: CancelOutcome | None  # the order's cancel, when there is one already


def preview_cancel(database: Database, order_id: int) -> CancelPreview:
    """The same decide_path the verb uses, so the page says exactly what the click will do."""
    with database.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise OrderNotFound(order_id)
        done = _existing(session, order_id)
        if done is not None:
            return CancelPreview(CancelPath(done.path), done.refund_fen, _outcome(done, True))
        path = decide_path(OrderStatus(order.status), order.payment_method)
        owed = order.paid_fen - payouts.committed_fen(session, order_id)
        return CancelPreview(path, max(owed, 0), None)


@dataclass(frozen=True)
class WaitingCancellation:
    id: int
    order_id: int
    public_no: str
    path: CancelPath
    status: CancelStatus
    refund_fen: int
    created_at: datetime
    needs_unpack: bool


def list_waiting_for_staff(database: Database) -> list[WaitingCancellation]:
    """The staff queue: sealed parcels to open and shelve, and refunds the gateway refused."""
    with database.read() as session:
        rows = session.execute(
            select(OrderCancellation, Order.public_no)
            .join(Order, Order.id == OrderCancellation.order_id)
            .where(
                (
                    (OrderCancellation.path == CancelPath.PACKED)
                    & OrderCancellation.unpacked_at.is_(None)
                )
                | (OrderCancellation.status == CancelStatus.REFUND_FAILED)
            )
            .order_by(OrderCancellation.created_at, OrderCancellation.id)
            .limit(200)
        ).all()
        return [
            WaitingCancellation(
                row.id,
                row.order_id,
                public_no,
                CancelPath(row.path),
                CancelStatus(row.status),
                row.refund_fen,
                row.created_at,
                row.path == CancelPath.PACKED and row.unpacked_at is None,
            )
            for row, public_no in rows
        ]
