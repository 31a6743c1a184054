"""Order core tables: customers, orders, lines and versioned shipping addresses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, utcnow
from backend.orders.lifecycle import OrderStatus


class SalesChannel(StrEnum):
    TAOBAO = "taobao"
    TMALL = "tmall"
    JD = "jd"
    PINDUODUO = "pinduoduo"
    DOUYIN = "douyin"
    WECHAT = "wechat"
    SHOPIFY = "shopify"
    OWN_SHOP = "own_shop"
    MANUAL = "manual"


class PaymentMethod(StrEnum):
    WECHAT_PAY = "wechat_pay"
    ALIPAY = "alipay"
    BANK_CARD = "bank_card"
    PLATFORM = "platform"  # the marketplace collected the money (Taobao, JD, ...)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # Mainland mobile in E.164-less 11-digit form; the customer's identity across channels.
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    # Known once the customer has opened a link inside WeChat and allowed subscribe messages.
    wechat_openid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "channel_order_no"),
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        CheckConstraint("paid_fen >= 0", name="paid_not_negative"),
        Index("ix_orders_status_changed", "status", "status_changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_no: Mapped[str] = mapped_column(String(24), unique=True)
    channel: Mapped[SalesChannel] = mapped_column(String(20))
    channel_order_no: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(String(20), default=OrderStatus.PENDING_PAYMENT)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    total_fen: Mapped[int] = mapped_column(default=0)
    paid_fen: Mapped[int] = mapped_column(default=0)
    payment_method: Mapped[PaymentMethod | None] = mapped_column(String(20))
    risk_flag: Mapped[bool] = mapped_column(default=False)
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None]
    packed_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # Set by the warehouse pack scan; from then on the address is frozen.
    address_locked_at: Mapped[datetime | None]
    current_address_id: Mapped[int | None] = mapped_column(
        ForeignKey("address_versions.id", use_alter=True)
    )
    # Why intake held the order for staff (unknown SKU, duplicate, value ...); None: free to ship.
    hold_reason: Mapped[str | None] = mapped_column(String(20), index=True)
    # The channel's own last-modified time: an older update never overwrites a newer one.
    channel_updated_at: Mapped[datetime | None]
    # Changes the customer made themselves; the rules cap them (AddressRules).
    customer_address_edits: Mapped[int] = mapped_column(default=0)
    # Bumping this revokes every signed link issued for the order.
    link_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", lazy="raise"
    )
    customer: Mapped[Customer] = relationship(lazy="raise")
    current_address: Mapped[AddressVersion | None] = relationship(
        foreign_keys=[current_address_id], lazy="raise", post_update=True
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_fen >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int]
    unit_price_fen: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="lines", lazy="raise")

    @property
    def amount_fen(self) -> int:
        return self.quantity * self.unit_price_fen


class AddressVersion(Base):
    """A shipping address snapshot; a change adds a version, it never overwrites one."""

    __tablename__ = "address_versions"
    __table_args__ = (
        UniqueConstraint("order_id", "version"),
        # Intake's duplicate-buyer check looks orders up by recipient phone.
        Index("ix_address_versions_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    version: Mapped[int]
    recipient_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    province: Mapped[str] = mapped_column(String(32))
    city: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(32))
    street: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
