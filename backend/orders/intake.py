"""Channel orders into the one order model: idempotent, ordered, reserved, and held when doubtful.

The same channel order twice updates, never duplicates; an older update never regresses
a newer one; every raw payload is kept. New orders reserve stock at once and are held,
with the reason staff see, when a SKU is unknown, stock is short, the same phone bought
the same SKU minutes ago on any channel, the value needs a second reviewer, or the
price is below cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.orders import inventory
from backend.orders.channels import CanonicalOrder, parse_order_file, supersedes
from backend.orders.lifecycle import OrderAction, OrderStatus, can
from backend.orders.models import (
    AddressVersion,
    ChannelEvent,
    Customer,
    HoldReason,
    IntakeOutcome,
    Order,
    OrderLine,
    Sku,
)
from backend.orders.service import (
    NewAddress,
    add_address_version,
    get_or_create_customer,
    new_public_number,
    transition,
)
from backend.staff.permissions import Permission, check_permission

# Closed on the marketplace before it shipped; a refund there is the platform's, not ours.
CLOSED_BY_CHANNEL = frozenset({OrderStatus.CANCELLED, OrderStatus.REFUNDED})
# An order closed after packing may have waybills booked at a carrier; fulfilment gives
# them back (the order core never calls carriers). Payload: {"order_id": ...}.
ORDER_CLOSED = "orders.closed_by_channel"


# Orders arrive from the channels (webhooks), the worker and the demo seed without a role;
# staff bring them in only by importing a file.
_INTAKE_SOURCES = (ActorKind.CHANNEL, ActorKind.SYSTEM)


@dataclass(frozen=True)
class IntakeRules:
    high_value_fen: int = 500_000  # ¥5,000
    below_cost_tolerance: float = 0.05
    duplicate_window: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class IntakeResult:
    order_id: int | None
    outcome: IntakeOutcome
    hold: HoldReason | None = None


def ingest_channel_order(
    database: Database,
    order: CanonicalOrder,
    raw: str,
    rules: IntakeRules,
    actor: Actor,
    *,
    delivery_id: str | None = None,
) -> IntakeResult:
    """One delivery, one transaction. A concurrent twin that inserted first makes this an update."""
    check_permission(actor, Permission.IMPORT_ORDERS, also=_INTAKE_SOURCES)
    for attempt in range(2):
        try:
            with database.write() as session:
                return _ingest(session, order, raw, rules, actor, delivery_id)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _ingest(
    session: Session,
    order: CanonicalOrder,
    raw: str,
    rules: IntakeRules,
    actor: Actor,
    delivery_id: str | None,
) -> IntakeResult:
    channel = str(order.channel)
    if delivery_id and session.scalar(
        select(ChannelEvent.id).where(ChannelEvent.delivery_id == delivery_id)
    ):
        _keep(session, channel, None, order, raw, IntakeOutcome.DUPLICATE_DELIVERY, None)
        return IntakeResult(None, IntakeOutcome.DUPLICATE_DELIVERY)
    stored = session.scalars(
        select(Order)
        .where(Order.channel == channel, Order.channel_order_no == order.channel_order_no)
        .with_for_update()
    ).first()
    if stored is None:
        result = _create(session, order, rules, actor)
    else:
        result = _update(session, stored, order, actor)
    _keep(session, channel, delivery_id, order, raw, result.outcome, result.order_id)
    return result


def _keep(
    session: Session,
    channel: str,
    delivery_id: str | None,
    order: CanonicalOrder,
    raw: str,
    outcome: IntakeOutcome,
    order_id: int | None,
) -> None:
    session.add(
        ChannelEvent(
            channel=channel,
            delivery_id=delivery_id,
            order_id=order_id,
            channel_order_no=order.channel_order_no,
            body=raw,
            outcome=str(outcome),
        )
    )


def _update(session: Session, stored: Order, order: CanonicalOrder, actor: Actor) -> IntakeResult:
    if not supersedes(order, stored.channel_updated_at):
        return IntakeResult(stored.id, IntakeOutcome.IGNORED_OLDER)
    stored.channel_updated_at = order.updated_at
    current = OrderStatus(stored.status)
    if order.status in CLOSED_BY_CHANNEL:
        _close(session, stored, current, actor)
    elif order.status != OrderStatus.PENDING_PAYMENT and can(current, OrderAction.PAY):
        transition(session, stored, OrderAction.PAY, actor, order.paid_at)
    return IntakeResult(stored.id, IntakeOutcome.UPDATED)


def _close(session: Session, stored: Order, current: OrderStatus, actor: Actor) -> None:
    """Closed on the channel. Before packing it is cancelled here too; once packed the
    lifecycle keeps its status (the goods may be on their way), but a label not yet
    collected must not travel: the order's labels are voided by a job."""
    if can(current, OrderAction.CANCEL):
        transition(session, stored, OrderAction.CANCEL, actor)
        inventory.release(session, stored.id)
    if stored.address_locked_at is None:
        return
    jobs.enqueue(session, ORDER_CLOSED, {"order_id": stored.id}, key=f"closed:{stored.id}")
    audit.record(
        session,
        actor,
        "order.closed_by_channel",
        subject="order",
        subject_id=stored.id,
        order_id=stored.id,
        before={"status": str(current)},
        after={"status": str(stored.status)},
    )


def _customer(session: Session, order: CanonicalOrder) -> Customer:
    # Marketplaces mask buyers' phones (135****1234); a masked number identifies nobody.
    phone = order.buyer_phone or order.address.phone
    if not phone or "*" in phone:
        phone = f"{order.channel}:{order.channel_order_no}"[:20]
    return get_or_create_customer(session, order.buyer_name or order.address.recipient_name, phone)


def _create(
    session: Session, order: CanonicalOrder, rules: IntakeRules, actor: Actor
) -> IntakeResult:
    placed = order.placed_at or utcnow()
    customer = _customer(session, order)
    row = Order(
        public_no=new_public_number(placed),
        channel=str(order.channel),
        channel_order_no=order.channel_order_no,
        customer_id=customer.id,
        status=OrderStatus.PENDING_PAYMENT,
        status_changed_at=placed,
        total_fen=order.total_fen,
        payment_method=order.payment_method,
        placed_at=placed,
        created_at=placed,
        channel_updated_at=order.updated_at,
        risk_flag=bool(order.risk_hints and "channel_risk_control" in order.risk_hints),
    )
    session.add(row)
    session.flush()
    a = order.address
    address = NewAddress(
        a.recipient_name, a.phone, a.province, a.city, a.district, a.street, a.postal_code
    )
    add_address_version(session, row, address, actor, at=placed)
    hold = _lines_and_stock(session, row, order)
    hold = hold or _duplicate(session, row, order, rules) or _value_holds(session, row, rules)
    row.hold_reason = hold
    if order.status in CLOSED_BY_CHANNEL:
        transition(session, row, OrderAction.CANCEL, actor, order.updated_at or placed)
        inventory.release(session, row.id)
    elif order.status != OrderStatus.PENDING_PAYMENT:
        transition(session, row, OrderAction.PAY, actor, order.paid_at or placed)
        row.paid_fen = order.total_fen
    audit.record(
        session,
        actor,
        "order.ingested",
        subject="order",
        subject_id=row.id,
        order_id=row.id,
        after={
            "channel": str(order.channel),
            "channel_order_no": order.channel_order_no,
            "hold": str(hold) if hold else None,
        },
    )
    return IntakeResult(row.id, IntakeOutcome.CREATED, hold)


def _lines_and_stock(session: Session, row: Order, order: CanonicalOrder) -> HoldReason | None:
    hold: HoldReason | None = None
    for line in order.lines:
        sku = inventory.resolve_sku(session, str(order.channel), line.channel_sku)
        session.add(
            OrderLine(
                order_id=row.id,
                sku=sku.code if sku else line.channel_sku,
                name=line.name,
                quantity=line.quantity,
                unit_price_fen=line.unit_price_fen,
            )
        )
        if sku is None:
            hold = hold or HoldReason.UNKNOWN_SKU
        elif hold is None and not inventory.try_reserve(session, row.id, sku.id, line.quantity):
            hold = HoldReason.OUT_OF_STOCK
    if hold is not None:
        inventory.release(session, row.id)  # all or nothing: a held order keeps no units
    return hold


def _duplicate(
    session: Session, row: Order, order: CanonicalOrder, rules: IntakeRules
) -> HoldReason | None:
    phone = order.address.phone
    if not phone or "*" in phone:
        return None
    skus = [line.channel_sku for line in order.lines]
    since = (order.placed_at or utcnow()) - rules.duplicate_window
    twin = session.scalar(
        select(Order.id)
        .join(AddressVersion, AddressVersion.id == Order.current_address_id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            Order.id != row.id,
            AddressVersion.phone == phone,
            OrderLine.sku.in_(skus),
            Order.placed_at >= since,
            Order.status != OrderStatus.CANCELLED,
        )
        .limit(1)
    )
    return HoldReason.DUPLICATE_SUSPECT if twin is not None else None


def _value_holds(session: Session, row: Order, rules: IntakeRules) -> HoldReason | None:
    if row.total_fen > rules.high_value_fen:
        return HoldReason.HIGH_VALUE
    cost = 0
    for line in session.scalars(select(OrderLine).where(OrderLine.order_id == row.id)):
        sku = session.scalar(select(Sku).where(Sku.code == line.sku))
        cost += (sku.cost_fen if sku else 0) * line.quantity
    if cost and row.total_fen < cost * (1 - rules.below_cost_tolerance):
        return HoldReason.BELOW_COST
    return None


@dataclass(frozen=True)
class ImportResult:
    created: int
    unchanged: int
    errors: tuple[tuple[int, str, str], ...]  # (row, column, code)


def import_order_file(
    database: Database, filename: str, data: bytes, rules: IntakeRules, actor: Actor
) -> ImportResult:
    """Hand-taken orders from CSV/Excel: good orders go in, bad rows are reported one by one.

    Each order is its own intake transaction (its `order.ingested` event names the
    importing staff member); the file as a whole is audited once at the end.
    """
    check_permission(actor, Permission.IMPORT_ORDERS)
    orders, errors = parse_order_file(filename, data)
    created = unchanged = 0
    for order in orders:
        result = ingest_channel_order(database, order, f"import:{filename}", rules, actor)
        if result.outcome == IntakeOutcome.CREATED:
            created += 1
        else:
            unchanged += 1
    with database.write() as session:
        audit.record(
            session,
            actor,
            "orders.imported",
            subject="import",
            subject_id=filename[:64],
            after={
                "file": filename,
                "lines": sum(len(order.lines) for order in orders),  # rows of good orders
                "orders": len(orders),
                "created": created,
                "unchanged": unchanged,
                "errors": len(errors),
                "rows_with_errors": len({error.row for error in errors}),
            },
        )
    return ImportResult(
        created, unchanged, tuple((error.row, error.column, error.code) for error in errors)
    )
