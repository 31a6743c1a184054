"""Order services: placing an order and moving it through its lifecycle, each audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor
from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.orders.lifecycle import OrderAction, OrderStatus, next_status
from backend.orders.models import (
    AddressVersion,
    Customer,
    Order,
    PaymentMethod,
    SalesChannel,
)
from backend.personal_data import phone_index

# Which timestamp each action stamps on the order, so reports need no audit scan.
_STAMPS: dict[OrderAction, str] = {
    OrderAction.PAY: "paid_at",
    OrderAction.PACK: "packed_at",
    OrderAction.SHIP: "shipped_at",
    OrderAction.DELIVER: "delivered_at",
    OrderAction.COMPLETE: "completed_at",
    OrderAction.CANCEL: "cancelled_at",
    OrderAction.CANCEL_AFTER_PACK: "cancelled_at",
}


class OrderNotFound(Exception):
    """No such order (or not one this caller may see)."""


@dataclass(frozen=True)
class NewLine:
    sku: str
    name: str
    quantity: int
    unit_price_fen: int


@dataclass(frozen=True)
class NewAddress:
    recipient_name: str
    phone: str
    province: str
    city: str
    district: str
    street: str
    postal_code: str | None = None

    def as_dict_without_postal(self) -> dict[str, str]:
        return {
            "recipient_name": self.recipient_name,
            "phone": self.phone,
            "province": self.province,
            "city": self.city,
            "district": self.district,
            "street": self.street,
        }

    def as_dict(self) -> dict[str, str | None]:
        return {
            "recipient_name": self.recipient_name,
            "phone": self.phone,
            "province": self.province,
            "city": self.city,
            "district": self.district,
            "street": self.street,
            "postal_code": self.postal_code,
        }


@dataclass(frozen=True)
class NewOrder:
    channel: SalesChannel
    channel_order_no: str
    customer_name: str
    customer_phone: str
    address: NewAddress
    lines: list[NewLine] = field(default_factory=list)
    payment_method: PaymentMethod | None = None
    placed_at: datetime | None = None
    risk_flag: bool = False


def new_public_number(placed_at: datetime) -> str:
    """Date in Shanghai plus random digits: readable on the phone, meaningless as a credential."""
    day = placed_at.astimezone(SHANGHAI).strftime("%y%m%d")
    return f"{day}{secrets.randbelow(10**8):08d}"


def get_or_create_customer(session: Session, name: str, phone: str) -> Customer:
    customer = session.scalars(
        select(Customer).where(Customer.phone_index == phone_index(phone))
    ).first()
    if customer is None:
        customer = Customer(name=name, phone=phone)
        session.add(customer)
        session.flush()
    return customer


def add_address_version(
    session: Session, order: Order, address: NewAddress, actor: Actor, at: datetime | None = None
) -> AddressVersion:
    latest = session.scalar(
        select(AddressVersion.version)
        .where(AddressVersion.order_id == order.id)
        .order_by(AddressVersion.version.desc())
        .limit(1)
    )
    version = AddressVersion(
        order_id=order.id,
        version=(latest or 0) + 1,
        created_by=f"{actor.kind}:{actor.identifier}",
        created_at=at or utcnow(),
        **address.as_dict(),
    )
    session.add(version)
    session.flush()
    order.current_address_id = version.id
    return version


def transition(
    session: Session, order: Order, action: OrderAction, actor: Actor, at: datetime | None = None
) -> OrderStatus:
    """Apply one lifecycle action inside the caller's transaction, with its audit event."""
    at = at or utcnow()
    before = order.status
    order.status = next_status(OrderStatus(order.status), action)
    order.status_changed_at = at
    stamp = _STAMPS.get(action)
    if stamp:
        setattr(order, stamp, at)
    if action == OrderAction.PAY:
        order.paid_fen = order.total_fen
    audit.record(
        session,
        actor,
        f"order.{action}",
        subject="order",
        subject_id=order.id,
        order_id=order.id,
        before={"status": str(before)},
        after={"status": str(order.status)},
        at=at,
    )
    return order.status


def apply_action(
    database: Database, order_id: int, action: OrderAction, actor: Actor, at: datetime | None = None
) -> OrderStatus:
    with database.write() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise OrderNotFound(order_id)
        return transition(session, order, action, actor, at)


def find_order_id(database: Database, public_no: str) -> int | None:
    with database.read() as session:
        return session.scalar(select(Order.id).where(Order.public_no == public_no))
