"""Read models for order lists and the staff order page: frozen rows, no live ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, or_, select

from backend.audit.models import AuditEvent
from backend.db import Database
from backend.orders.access import SESSION_IS_CURRENT, CustomerSession, SessionEnded
from backend.orders.holds import HoldState, get_hold_state
from backend.orders.lifecycle import OrderStatus
from backend.orders.masking import mask_name, mask_phone
from backend.orders.models import (
    AddressVersion,
    ChannelSku,
    Customer,
    Order,
    OrderLine,
    SalesChannel,
    Sku,
)

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class OrderSummary:
    id: int
    public_no: str
    channel: SalesChannel
    channel_order_no: str
    status: OrderStatus
    placed_at: datetime
    total_fen: int
    recipient: str
    phone: str
    first_item: str
    item_count: int


@dataclass(frozen=True)
class AddressRecord:
    version: int
    recipient_name: str
    phone: str
    province: str
    city: str
    district: str
    street: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    action: str
    actor_kind: str
    actor_id: str
    actor_channel: str | None
    ip: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class StaffLine:
    sku: str
    name: str  # the channel's title, as the buyer saw it
    quantity: int
    unit_price_fen: int
    # False: intake could not match the SKU (our code, or the channel's mapped to ours).
    in_sku_master: bool


@dataclass(frozen=True)
class StaffOrderView:
    summary: OrderSummary
    customer_id: int
    customer_name: str
    customer_phone: str
    paid_fen: int
    risk_flag: bool
    address_locked_at: datetime | None
    link_version: int
    hold_reason: str | None
    hold: HoldState | None
    lines: tuple[StaffLine, ...]
    addresses: tuple[AddressRecord, ...]
    audit: tuple[AuditRecord, ...]


def summary_select() -> Select[Any]:
    """Order, current address and item figures in one row: the shape every order list uses."""
    first_item = (
        select(OrderLine.name)
        .where(OrderLine.order_id == Order.id)
        .order_by(OrderLine.id)
        .limit(1)
        .scalar_subquery()
    )
    item_count = (
        select(func.coalesce(func.sum(OrderLine.quantity), 0))
        .where(OrderLine.order_id == Order.id)
        .scalar_subquery()
    )
    return select(
        Order.id,
        Order.public_no,
        Order.channel,
        Order.channel_order_no,
        Order.status,
        Order.placed_at,
        Order.total_fen,
        AddressVersion.recipient_name,
        AddressVersion.phone,
        first_item.label("first_item"),
        item_count.label("item_count"),
    ).outerjoin(AddressVersion, AddressVersion.id == Order.current_address_id)


def to_summary(row: Any, masked: bool) -> OrderSummary:
    name, phone = row.recipient_name or "", row.phone or ""
    return OrderSummary(
        id=row.id,
        public_no=row.public_no,
        channel=SalesChannel(row.channel),
        channel_order_no=row.channel_order_no,
        status=OrderStatus(row.status),
        placed_at=row.placed_at,
        total_fen=row.total_fen,
        recipient=mask_name(name) if masked else name,
        phone=mask_phone(phone) if masked else phone,
        first_item=row.first_item or "",
        item_count=int(row.item_count or 0),
    )


def list_customer_orders(database: Database, customer: CustomerSession) -> list[OrderSummary]:
    """The customer's orders, in the one query that also checks their session."""
    statement = (
        summary_select()
        .where(Order.customer_id == bindparam("customer_id"), SESSION_IS_CURRENT)
        .order_by(Order.placed_at.desc())
        .limit(SEARCH_LIMIT)
    )
    with database.read() as session:
        rows = session.execute(statement, customer.parameters()).all()
    # A current session always finds at least the order that granted it, so none at all
    # means the session has ended, and no second query is needed to tell.
    if not rows:
        raise SessionEnded
    return [to_summary(row, masked=True) for row in rows]


# The same two ways intake resolves a line's SKU (inventory.resolve_sku), as one predicate.
_IN_SKU_MASTER = or_(
    exists().where(Sku.code == OrderLine.sku),
    exists().where(ChannelSku.channel == Order.channel, ChannelSku.channel_sku == OrderLine.sku),
)


def get_staff_order_view(database: Database, order_id: int) -> StaffOrderView | None:
    with database.read() as session:
        row = session.execute(
            summary_select()
            .add_columns(
                Order.customer_id,
                Customer.name.label("customer_name"),
                Customer.phone.label("customer_phone"),
                Order.paid_fen,
                Order.risk_flag,
                Order.address_locked_at,
                Order.link_version,
                Order.hold_reason,
            )
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.id == order_id)
        ).first()
        if row is None:
            return None
        hold = get_hold_state(session, order_id, row.hold_reason) if row.hold_reason else None
        lines = session.execute(
            select(
                OrderLine.sku,
                OrderLine.name,
                OrderLine.quantity,
                OrderLine.unit_price_fen,
                _IN_SKU_MASTER.label("in_sku_master"),
            )
            .join(Order, Order.id == OrderLine.order_id)
            .where(OrderLine.order_id == order_id)
            .order_by(OrderLine.id)
        ).all()
        addresses = session.execute(
            select(
                AddressVersion.version,
                AddressVersion.recipient_name,
                AddressVersion.phone,
                AddressVersion.province,
                AddressVersion.city,
                AddressVersion.district,
                AddressVersion.street,
                AddressVersion.created_by,
                AddressVersion.created_at,
            )
            .where(AddressVersion.order_id == order_id)
            .order_by(AddressVersion.version.desc())
        ).all()
        events = session.execute(
            select(
                AuditEvent.at,
                AuditEvent.action,
                AuditEvent.actor_kind,
                AuditEvent.actor_id,
                AuditEvent.actor_channel,
                AuditEvent.ip,
                AuditEvent.before,
                AuditEvent.after,
            )
            .where(AuditEvent.order_id == order_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        ).all()
    return StaffOrderView(
        summary=to_summary(row, masked=False),
        customer_id=row.customer_id,
        customer_name=row.customer_name,
        customer_phone=row.customer_phone,
        paid_fen=row.paid_fen,
        risk_flag=row.risk_flag,
        address_locked_at=row.address_locked_at,
        link_version=row.link_version,
        hold_reason=row.hold_reason,
        hold=hold,
        lines=tuple(StaffLine(*line) for line in lines),
        addresses=tuple(AddressRecord(*a) for a in addresses),
        audit=tuple(AuditRecord(*e) for e in events),
    )


@dataclass(frozen=True)
class LineRecord:
    id: int
    sku: str
    name: str
    quantity: int
    unit_price_fen: int


def list_order_lines(database: Database, order_id: int) -> list[LineRecord]:
    with database.read() as session:
        rows = session.execute(
            select(
                OrderLine.id,
                OrderLine.sku,
                OrderLine.name,
                OrderLine.quantity,
                OrderLine.unit_price_fen,
            )
            .where(OrderLine.order_id == order_id)
            .order_by(OrderLine.id)
        ).all()
    return [LineRecord(*row) for row in rows]
