"""A new channel order written with Core inserts: customer, order, address, lines and holds.

Intake's hot path: most deliveries are new orders, and the ORM's unit of work cost more
than the database did. The rows are what `service.add_address_version` and `transition`
would write; stock is reserved later, for the whole batch at once (reservations.py), so
the order's hold is settled then, together with its `order.ingested` audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor
from backend.clock import utcnow
from backend.orders import allocation, inventory
from backend.orders.channels import CanonicalOrder
from backend.orders.lifecycle import OrderAction, OrderStatus, next_status
from backend.orders.models import (
    AddressVersion,
    Customer,
    HoldReason,
    Order,
    OrderLine,
)
from backend.orders.service import new_public_number
from backend.personal_data import last4, phone_index

if TYPE_CHECKING:
    from backend.orders.intake import IntakeRules

CLOSED_BY_CHANNEL = frozenset({OrderStatus.CANCELLED, OrderStatus.REFUNDED})

_ORDERS: Table = Order.__table__  # type: ignore[assignment]
_ADDRESSES: Table = AddressVersion.__table__  # type: ignore[assignment]
_LINES: Table = OrderLine.__table__  # type: ignore[assignment]
_CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]
# Built once, values given at each execution: building a statement per row cost more CPU
# than the database spent on it.
_NEW_ORDER = insert(_ORDERS).returning(_ORDERS.c.id)
_NEW_ADDRESS = insert(_ADDRESSES).returning(_ADDRESSES.c.id)
_NEW_LINE = insert(_LINES).returning(_LINES.c.id)
_NEW_LINES = insert(_LINES).returning(_LINES.c.id, sort_by_parameter_order=True)
_NEW_CUSTOMER = {
    dialect: dialect.insert(_CUSTOMERS)
    .on_conflict_do_nothing(index_elements=[_CUSTOMERS.c.phone_index])
    .returning(_CUSTOMERS.c.id)
    for dialect in (sqlite, postgresql)
}
_TWIN = (
    select(Order.id)
    .join(AddressVersion, AddressVersion.id == Order.current_address_id)
    .join(OrderLine, OrderLine.order_id == Order.id)
    .where(
        AddressVersion.phone_index == bindparam("phone_index"),
        OrderLine.sku.in_(bindparam("skus", expanding=True)),
        Order.placed_at >= bindparam("since", type_=Order.__table__.c.placed_at.type),
        Order.status != OrderStatus.CANCELLED,
    )
    .limit(1)
)


@dataclass(frozen=True)
class KnownSku:
    id: int
    code: str
    cost_fen: int


@dataclass
class Catalogue:
    """Channel SKUs resolved once per batch: most orders of a burst sell the same few."""

    session: Session
    known: dict[tuple[str, str], KnownSku | None] = field(default_factory=dict)

    def resolve(self, channel: str, channel_sku: str) -> KnownSku | None:
        key = (channel, channel_sku)
        if key not in self.known:
            sku = inventory.resolve_sku(self.session, channel, channel_sku)
            self.known[key] = KnownSku(sku.id, sku.code, sku.cost_fen) if sku else None
        return self.known[key]


@dataclass(frozen=True)
class Recent:
    """An order made earlier in the batch, for the duplicate-buyer rule."""

    phone_index: str
    skus: frozenset[str]  # as stored on its lines
    placed_at: datetime
    cancelled: bool


@dataclass
class Created:
    """A new order inserted in the batch, waiting for its stock and its final hold."""

    index: int  # its place among the batch's outcomes
    order_id: int
    address_id: int
    actor: Actor
    lines: tuple[allocation.Line, ...]
    unknown_sku: bool
    destination: str
    closed: bool  # closed on the channel before it reached us: it keeps no stock
    later_hold: HoldReason | None  # duplicate buyer or value: after the stock holds
    events: list[dict[str, Any]]  # its lifecycle events, written with order.ingested
    ingested: dict[str, Any]  # order.ingested's "after", the hold added at the end
    recent: Recent

    def hold(self, placed: bool) -> HoldReason | None:
        if self.unknown_sku:
            return HoldReason.UNKNOWN_SKU
        if not placed:
            return HoldReason.OUT_OF_STOCK
        return self.later_hold


def buyer_of(order: CanonicalOrder) -> tuple[str, str]:
    # Marketplaces mask buyers' phones (135****1234); a masked number identifies nobody.
    phone = order.buyer_phone or order.address.phone
    if not phone or "*" in phone:
        phone = f"{order.channel}:{order.channel_order_no}"[:20]
    return order.buyer_name or order.address.recipient_name, phone


def find_customers(session: Session, orders: list[CanonicalOrder]) -> dict[str, int]:
    """Customer ids by phone index, for the buyers of a batch, in one query."""
    indexes = {phone_index(buyer_of(order)[1]) for order in orders}
    rows = session.execute(
        select(Customer.phone_index, Customer.id).where(Customer.phone_index.in_(indexes))
    )
    return {index: customer_id for index, customer_id in rows}


def _customer(session: Session, order: CanonicalOrder, known: dict[str, int]) -> tuple[str, int]:
    name, phone = buyer_of(order)
    index = phone_index(phone)
    if index in known:
        return index, known[index]
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    values = {"name": name, "phone": phone, "phone_index": index, "phone_last4": last4(phone)}
    # A twin worker inserting the same buyer first: ours waits for it, then adds nothing.
    made = session.scalar(_NEW_CUSTOMER[dialect], values)
    if made is None:
        made = session.scalar(select(Customer.id).where(Customer.phone_index == index))
    assert made is not None
    return index, made


def create(
    session: Session,
    index: int,
    order: CanonicalOrder,
    rules: IntakeRules,
    actor: Actor,
    shop_id: int | None,
    catalogue: Catalogue,
    customers: dict[str, int],
    recent: list[Recent],
) -> tuple[Created, str, int]:
    """Insert the order and what it is made of; returns it, and its buyer (index, id)."""
    placed = order.placed_at or utcnow()
    buyer, customer_id = _customer(session, order, customers)
    values: dict[str, Any] = {
        "public_no": new_public_number(placed),
        "channel": str(order.channel),
        "channel_order_no": order.channel_order_no,
        "shop_id": shop_id,
        "customer_id": customer_id,
        "status": OrderStatus.PENDING_PAYMENT,
        "status_changed_at": placed,
        "total_fen": order.total_fen,
        "payment_method": order.payment_method,
        "placed_at": placed,
        "created_at": placed,
        "channel_updated_at": order.updated_at,
        "risk_flag": bool(order.risk_hints and "channel_risk_control" in order.risk_hints),
    }
    closed = order.status in CLOSED_BY_CHANNEL
    action, at = None, placed
    if closed:
        action, at = OrderAction.CANCEL, order.updated_at or placed
        values.update(cancelled_at=at)
    elif order.status != OrderStatus.PENDING_PAYMENT:
        action, at = OrderAction.PAY, order.paid_at or placed
        values.update(paid_at=at, paid_fen=order.total_fen)
    if action is not None:
        values.update(status=next_status(OrderStatus.PENDING_PAYMENT, action), status_changed_at=at)
    order_id = session.execute(_NEW_ORDER, values).scalar_one()
    address_id = _address(session, order_id, order, actor, placed)
    lines, stored_skus, unknown = _lines(session, order_id, order, catalogue)
    events = []
    if action is not None:
        events.append(
            audit.build(
                actor,
                f"order.{action}",
                subject="order",
                subject_id=order_id,
                order_id=order_id,
                before={"status": str(OrderStatus.PENDING_PAYMENT)},
                after={"status": str(values["status"])},
                at=at,
            )
        )
    mine = Recent(phone_index(order.address.phone or ""), frozenset(stored_skus), placed, closed)
    later = _duplicate(session, order, rules, recent) or _value_hold(order, rules, catalogue)
    created = Created(
        index=index,
        order_id=order_id,
        address_id=address_id,
        actor=actor,
        lines=tuple(lines),
        unknown_sku=unknown,
        destination=order.address.province,
        closed=closed,
        later_hold=later,
        events=events,
        ingested={"channel": str(order.channel), "channel_order_no": order.channel_order_no},
        recent=mine,
    )
    return created, buyer, customer_id


def _address(
    session: Session, order_id: int, order: CanonicalOrder, actor: Actor, placed: datetime
) -> int:
    a = order.address
    values = {
        "order_id": order_id,
        "version": 1,
        "recipient_name": a.recipient_name,
        "phone": a.phone,
        "phone_index": phone_index(a.phone),
        "phone_last4": last4(a.phone),
        "province": a.province,
        "city": a.city,
        "district": a.district,
        "street": a.street,
        "postal_code": a.postal_code,
        "created_by": f"{actor.kind}:{actor.identifier}",
        "created_at": placed,
    }
    return int(session.execute(_NEW_ADDRESS, values).scalar_one())


def _lines(
    session: Session, order_id: int, order: CanonicalOrder, catalogue: Catalogue
) -> tuple[list[allocation.Line], list[str], bool]:
    """The lines, stored under our SKU code where the channel's maps to one."""
    channel = str(order.channel)
    skus = [catalogue.resolve(channel, line.channel_sku) for line in order.lines]
    rows = [
        {
            "order_id": order_id,
            "sku": sku.code if sku else line.channel_sku,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price_fen": line.unit_price_fen,
            "channel_line_id": line.channel_line_id,
        }
        for line, sku in zip(order.lines, skus, strict=True)
    ]
    if not rows:
        return [], [], False
    if len(rows) == 1:
        ids = [session.execute(_NEW_LINE, rows[0]).scalar_one()]
    else:
        ids = list(session.scalars(_NEW_LINES, rows))
    lines = [
        allocation.Line(line_id, sku.id, line.quantity)
        for line_id, line, sku in zip(ids, order.lines, skus, strict=True)
        if sku is not None
    ]
    return lines, [str(row["sku"]) for row in rows], None in skus


def _duplicate(
    session: Session, order: CanonicalOrder, rules: IntakeRules, recent: list[Recent]
) -> HoldReason | None:
    """The same phone bought one of these SKUs minutes ago: before this batch, or in it."""
    phone = order.address.phone
    if not phone or "*" in phone:
        return None
    skus = [line.channel_sku for line in order.lines]
    since = (order.placed_at or utcnow()) - rules.duplicate_window
    index = phone_index(phone)
    for twin in recent:
        same_buyer = twin.phone_index == index and twin.placed_at >= since
        if same_buyer and not twin.cancelled and twin.skus & set(skus):
            return HoldReason.DUPLICATE_SUSPECT
    # Orders of this batch have no current address yet: only earlier ones match here.
    twin_id = session.scalar(_TWIN, {"phone_index": index, "skus": skus, "since": since})
    return HoldReason.DUPLICATE_SUSPECT if twin_id is not None else None


def _value_hold(
    order: CanonicalOrder, rules: IntakeRules, catalogue: Catalogue
) -> HoldReason | None:
    if order.total_fen > rules.high_value_fen:
        return HoldReason.HIGH_VALUE
    cost = 0
    for line in order.lines:
        sku = catalogue.resolve(str(order.channel), line.channel_sku)
        cost += (sku.cost_fen if sku else 0) * line.quantity
    if cost and order.total_fen < cost * (1 - rules.below_cost_tolerance):
        return HoldReason.BELOW_COST
    return None
