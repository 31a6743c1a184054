"""Channel orders into the one order model: idempotent, ordered, reserved, and held when doubtful.

The same channel order twice updates, never duplicates; an older update never regresses
a newer one; every raw payload is kept. New orders reserve stock at once and are held,
with the reason staff see, when a SKU is unknown, stock is short, the same phone bought
the same SKU minutes ago on any channel, the value needs a second reviewer, or the
price is below cost.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.orders import allocation, inventory
from backend.orders.channels import CanonicalOrder, parse_order_file, supersedes
from backend.orders.channels.canonical import CanonicalParcel
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
from backend.orders.shops import ensure_shop
from backend.personal_data import phone_index
from backend.staff.permissions import Permission, check_permission

# Closed on the marketplace before it shipped; a refund there is the platform's, not ours.
CLOSED_BY_CHANNEL = frozenset({OrderStatus.CANCELLED, OrderStatus.REFUNDED})
# An order closed after packing may have waybills booked at a carrier; fulfilment gives
# them back (the order core never calls carriers). Payload: {"order_id": ...}.
ORDER_CLOSED = "orders.closed_by_channel"


# Channels whose order updates name parcels the platform or a 3PL shipped (docs/protocols.md,
# "Waybills in channel order updates"); a channel whose fields prove wrong can be left out.
PARCEL_CHANNELS = frozenset({"shopify", "taobao", "tmall", "jd", "pinduoduo", "douyin"})
# Job: record those parcels once the order is stored; fulfilment handles it (orders may not
# call fulfilment, which builds on orders).
CHANNEL_PARCELS = "fulfilment.channel_parcels"

# Orders arrive from the channels (webhooks), the worker and the demo seed without a role;
# staff bring them in only by importing a file.
_INTAKE_SOURCES = (ActorKind.CHANNEL, ActorKind.SYSTEM)


@dataclass(frozen=True)
class IntakeRules:
    high_value_fen: int = 500_000  # ¥5,000
    below_cost_tolerance: float = 0.05
    duplicate_window: timedelta = timedelta(minutes=5)
    parcel_channels: frozenset[str] = PARCEL_CHANNELS
    # How long a transfer between two warehouses takes, for proposing one (调拨).
    lead_times: allocation.LeadTimes = field(default_factory=allocation.LeadTimes)


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
    shop_code: str | None = None,
    receipt: str | None = None,
) -> IntakeResult:
    """One delivery, one transaction. A concurrent twin that inserted first makes this an update.

    `shop_code` is the store the push came through; an order keeps the shop it first came
    in by, and a push for it through another shop's URL changes nothing (OTHER_SHOP).
    """
    check_permission(actor, Permission.IMPORT_ORDERS, also=_INTAKE_SOURCES)
    for attempt in range(2):
        try:
            with database.write() as session:
                shop_id = ensure_shop(session, shop_code, order.channel).id if shop_code else None
                done = _taken_already(session, receipt)
                if done is not None:
                    return done
                return _ingest(session, order, raw, rules, actor, delivery_id, shop_id, receipt)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _taken_already(session: Session, receipt: str | None) -> IntakeResult | None:
    """What the push with this receipt came to, if its job ran to the commit before."""
    if not receipt:
        return None
    event = session.scalars(select(ChannelEvent).where(ChannelEvent.receipt == receipt)).first()
    if event is None:
        return None
    return IntakeResult(event.order_id, IntakeOutcome(event.outcome))


def _ingest(
    session: Session,
    order: CanonicalOrder,
    raw: str,
    rules: IntakeRules,
    actor: Actor,
    delivery_id: str | None,
    shop_id: int | None,
    receipt: str | None = None,
) -> IntakeResult:
    channel = str(order.channel)
    if delivery_id and session.scalar(
        select(ChannelEvent.id).where(ChannelEvent.delivery_id == delivery_id)
    ):
        _keep(session, channel, None, order, raw, IntakeOutcome.DUPLICATE_DELIVERY, None, receipt)
        return IntakeResult(None, IntakeOutcome.DUPLICATE_DELIVERY)
    stored = session.scalars(
        select(Order)
        .where(Order.channel == channel, Order.channel_order_no == order.channel_order_no)
        .with_for_update()
    ).first()
    if stored is None:
        result = _create(session, order, rules, actor, shop_id)
    elif shop_id is not None and stored.shop_id is not None and stored.shop_id != shop_id:
        # Order numbers are unique across a platform, so another store's secret naming
        # this order is a misrouted or forged push; it must not cancel or pay it.
        result = IntakeResult(stored.id, IntakeOutcome.OTHER_SHOP)
    else:
        result = _update(session, stored, order, actor)
    event = _keep(
        session, channel, delivery_id, order, raw, result.outcome, result.order_id, receipt
    )
    shipped_outside = bool(order.parcels) and channel in rules.parcel_channels
    if shipped_outside and result.order_id and result.outcome != IntakeOutcome.IGNORED_OLDER:
        _queue_parcels(session, event, result.order_id, order, actor)
    return result


def _queue_parcels(
    session: Session, event: ChannelEvent, order_id: int, order: CanonicalOrder, actor: Actor
) -> None:
    """Known carriers go to fulfilment in one job; an unknown one is noted on the event."""
    known: list[dict[str, object]] = []
    for parcel in order.parcels:
        if parcel.carrier_code is None:
            audit.record(
                session,
                actor,
                "channel.parcel_skipped",
                subject="channel_event",
                subject_id=event.id,
                order_id=order_id,
                after={"carrier": parcel.channel_carrier, "tracking_no": parcel.tracking_no},
            )
            continue
        known.append(_parcel_job(session, str(order.channel), parcel))
    if known:
        # Per channel version: a newer update naming the same parcels asks again (the order
        # may have been released from a hold since), and recording them twice is a no-op.
        numbers = ",".join(sorted(f"{p['carrier']}:{p['tracking_no']}" for p in known))
        numbers += f"@{order.updated_at.isoformat() if order.updated_at else ''}"
        digest = hashlib.sha256(numbers.encode()).hexdigest()[:32]
        jobs.enqueue(
            session,
            CHANNEL_PARCELS,
            {"order_id": order_id, "channel": str(order.channel), "parcels": known},
            key=f"parcels:{order_id}:{digest}",
        )


def _parcel_job(session: Session, channel: str, parcel: CanonicalParcel) -> dict[str, object]:
    # Lines are stored under our SKU code when the channel's SKU maps to one (_lines_and_stock).
    lines = []
    for channel_sku, quantity in parcel.lines:
        sku = inventory.resolve_sku(session, channel, channel_sku)
        lines.append([sku.code if sku else channel_sku, quantity])
    return {"carrier": parcel.carrier_code, "tracking_no": parcel.tracking_no, "lines": lines}


def _keep(
    session: Session,
    channel: str,
    delivery_id: str | None,
    order: CanonicalOrder,
    raw: str,
    outcome: IntakeOutcome,
    order_id: int | None,
    receipt: str | None = None,
) -> ChannelEvent:
    event = ChannelEvent(
        channel=channel,
        delivery_id=delivery_id,
        receipt=receipt,
        order_id=order_id,
        channel_order_no=order.channel_order_no,
        body=raw,
        outcome=str(outcome),
    )
    session.add(event)
    session.flush()
    return event


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
    session: Session, order: CanonicalOrder, rules: IntakeRules, actor: Actor, shop_id: int | None
) -> IntakeResult:
    placed = order.placed_at or utcnow()
    customer = _customer(session, order)
    row = Order(
        public_no=new_public_number(placed),
        channel=str(order.channel),
        channel_order_no=order.channel_order_no,
        shop_id=shop_id,
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
    hold = _lines_and_stock(session, row, order, rules)
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


def _lines_and_stock(
    session: Session, row: Order, order: CanonicalOrder, rules: IntakeRules
) -> HoldReason | None:
    lines: list[allocation.Line] = []
    unknown = False
    for line in order.lines:
        sku = inventory.resolve_sku(session, str(order.channel), line.channel_sku)
        stored = OrderLine(
            order_id=row.id,
            sku=sku.code if sku else line.channel_sku,
            name=line.name,
            quantity=line.quantity,
            unit_price_fen=line.unit_price_fen,
            channel_line_id=line.channel_line_id,
        )
        session.add(stored)
        session.flush()
        if sku is None:
            unknown = True
        else:
            lines.append(allocation.Line(stored.id, sku.id, line.quantity))
    if unknown:
        return HoldReason.UNKNOWN_SKU
    province = order.address.province
    # All or nothing: a held order keeps no units.
    if not inventory.reserve_lines(session, row.id, province, lines, rules.lead_times):
        return HoldReason.OUT_OF_STOCK
    return None


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
            AddressVersion.phone_index == phone_index(phone),
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
