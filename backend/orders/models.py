"""Order core tables: orders, addresses, intake, warehouses and stock, access, reconciliation."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.orders.lifecycle import OrderStatus
from backend.personal_data import EncryptedString, last4, phone_index


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


class HoldReason(StrEnum):
    UNKNOWN_SKU = "unknown_sku"  # operations: map the channel SKU
    OUT_OF_STOCK = "out_of_stock"  # warehouse: nothing to reserve
    DUPLICATE_SUSPECT = "duplicate_suspect"  # support: 待确认, the same buyer twice
    HIGH_VALUE = "high_value"  # finance: a second reviewer
    BELOW_COST = "below_cost"  # operations: priced under cost
    AWAITING_RETURN = "awaiting_return"  # 换货: ships once the carrier has the old unit


class IntakeOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    IGNORED_OLDER = "ignored_older"
    DUPLICATE_DELIVERY = "duplicate_delivery"
    # Pushed through another shop's URL than the one the order came in by: never applied.
    OTHER_SHOP = "other_shop"


class ChangeKind(StrEnum):
    EDIT = "edit"
    INTERCEPT = "intercept"  # 拦截改派: after packing, the carrier redirects the parcel


class ChangeStatus(StrEnum):
    AWAITING_CODE = "awaiting_code"
    PENDING_APPROVAL = "pending_approval"
    APPLIED = "applied"
    REJECTED = "rejected"
    LOST_TO_LOCK = "lost_to_lock"  # the pack scan committed first
    ABANDONED = "abandoned"  # too many wrong codes, or a newer change replaced it


class TransferStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class MovementKind(StrEnum):
    COUNT = "count"  # staff counted the shelf: on_hand set to a new figure
    COMMIT = "commit"  # shipped: the units left the warehouse
    RESTOCK = "restock"  # a returned unit inspected as resaleable, back on the shelf
    WRITE_OFF = "write_off"  # a returned unit too damaged to sell; never back in stock
    TRANSFER_OUT = "transfer_out"  # 调拨: sent to another warehouse
    TRANSFER_IN = "transfer_in"


class ReservationState(StrEnum):
    RESERVED = "reserved"
    RELEASED = "released"  # cancelled, or unpaid too long
    COMMITTED = "committed"  # shipped: the units left the warehouse


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # Mainland mobile in E.164-less 11-digit form; the customer's identity across channels.
    # Sealed at rest; found by its blind index, which is what is unique (personal_data.py).
    phone: Mapped[str] = mapped_column(EncryptedString("customers.phone"))
    phone_index: Mapped[str] = mapped_column(String(64), unique=True)
    phone_last4: Mapped[str] = mapped_column(String(4), default="")

    @validates("phone")
    def _index_phone(self, _key: str, phone: str) -> str:
        # Kept with the sealed phone on every write, so the index can't fall behind it.
        self.phone_index, self.phone_last4 = phone_index(phone), last4(phone)
        return phone

    # Known once the customer has opened a link inside WeChat and allowed subscribe messages.
    wechat_openid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerWechatId(Base):
    """A customer's openid in one WeChat app; openids differ per app, unionid joins them."""

    __tablename__ = "customer_wechat_ids"
    # One openid per customer per app: a newer link replaces the older one.
    __table_args__ = (
        UniqueConstraint("customer_id", "appid"),
        Index("ix_customer_wechat_ids_appid_openid", "appid", "openid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    appid: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64))
    # Sent only when the app is bound to an 开放平台 account (and, per WeChat, not for
    # snsapi_base at all): docs/protocols.md, "WeChat web OAuth / Code exchange".
    unionid: Mapped[str | None] = mapped_column(String(64))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class WechatOAuthNonce(Base):
    """A used OAuth state: the unique nonce is what refuses a replayed callback."""

    __tablename__ = "wechat_oauth_nonces"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    used_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Shop(Base):
    """One store on one platform (two Tmall stores are two shops); credentials live in settings."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The shop's name in URLs, files and the shops file: /webhooks/channels/tmall/<code>.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[SalesChannel] = mapped_column(EnumText(SalesChannel, 20), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The platform's own id of the store (Shopify's myshopify domain, a Tmall seller id ...).
    platform_shop_id: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "channel_order_no"),
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        CheckConstraint("paid_fen >= 0", name="paid_not_negative"),
        Index("ix_orders_status_changed", "status", "status_changed_at"),
        # The figures and the dashboard read orders by when they were placed, paid and
        # shipped in a date range (backend/figures.py, bench/operations_page.py).
        Index("ix_orders_placed_at", "placed_at"),
        Index("ix_orders_paid_at", "paid_at"),
        Index("ix_orders_shipped_at", "shipped_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_no: Mapped[str] = mapped_column(String(24), unique=True)
    channel: Mapped[SalesChannel] = mapped_column(EnumText(SalesChannel, 20))
    channel_order_no: Mapped[str] = mapped_column(String(64))
    # The store it was sold in; None only for orders older than shops (and hand-made ones).
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(
        EnumText(OrderStatus, 20), default=OrderStatus.PENDING_PAYMENT
    )
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    total_fen: Mapped[int] = mapped_column(default=0)
    paid_fen: Mapped[int] = mapped_column(default=0)
    payment_method: Mapped[PaymentMethod | None] = mapped_column(EnumText(PaymentMethod, 20))
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
    hold_reason: Mapped[HoldReason | None] = mapped_column(EnumText(HoldReason, 20), index=True)
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
    # The channel's own id of the line (Taobao oid, Shopify line item id, Douyin sub-order id):
    # ship confirmations and after-sales name lines by it.
    channel_line_id: Mapped[str | None] = mapped_column(String(64))

    order: Mapped[Order] = relationship(back_populates="lines", lazy="raise")

    @property
    def amount_fen(self) -> int:
        return self.quantity * self.unit_price_fen


class AddressVersion(Base):
    """A shipping address snapshot; a change adds a version, it never overwrites one."""

    __tablename__ = "address_versions"
    __table_args__ = (
        UniqueConstraint("order_id", "version"),
        # Intake's duplicate-buyer check looks orders up by recipient phone (its blind index).
        Index("ix_address_versions_phone_index", "phone_index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    version: Mapped[int]
    recipient_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(EncryptedString("address_versions.phone"))
    phone_index: Mapped[str] = mapped_column(String(64))
    phone_last4: Mapped[str] = mapped_column(String(4), default="")

    @validates("phone")
    def _index_phone(self, _key: str, phone: str) -> str:
        # Kept with the sealed phone on every write, so the index can't fall behind it.
        self.phone_index, self.phone_last4 = phone_index(phone), last4(phone)
        return phone

    province: Mapped[str] = mapped_column(String(32))
    city: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(32))
    street: Mapped[str] = mapped_column(EncryptedString("address_versions.street"))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelEvent(Base):
    """Every raw payload a channel sent, verified, with what became of it: audit and replay."""

    __tablename__ = "channel_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[SalesChannel] = mapped_column(EnumText(SalesChannel, 20), index=True)
    # The channel's delivery id where it has one (X-Shopify-Event-Id): repeats are dropped.
    delivery_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    # The push we acknowledged that this event was taken from, one each: its job, run again
    # after a worker died between the ingest and marking the job done, finds it here and
    # records nothing twice (a repeat is a new push and a new receipt).
    receipt: Mapped[str | None] = mapped_column(String(32), unique=True)
    channel_order_no: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    body: Mapped[str] = mapped_column(EncryptedString("channel_events.body"))  # the buyer's address
    outcome: Mapped[IntakeOutcome] = mapped_column(EnumText(IntakeOutcome, 20))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AddressChange(Base):
    __tablename__ = "address_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[ChangeKind] = mapped_column(EnumText(ChangeKind, 10), default=ChangeKind.EDIT)
    status: Mapped[ChangeStatus] = mapped_column(EnumText(ChangeStatus, 20), index=True)
    recipient_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(EncryptedString("address_changes.phone"))
    province: Mapped[str] = mapped_column(String(32))
    city: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(32))
    street: Mapped[str] = mapped_column(EncryptedString("address_changes.street"))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None]
    code_attempts: Mapped[int] = mapped_column(default=0)
    requested_by: Mapped[str] = mapped_column(String(120))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    auto_approve_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(String(200))  # shown to the customer


class ShortLink(Base):
    __tablename__ = "short_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Only a hash is stored, so a copy of the database does not hand out working links.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20), default="track")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LookupAttempt(Base):
    __tablename__ = "lookup_attempts"
    __table_args__ = (
        Index("ix_lookup_attempts_order_at", "order_key", "at"),
        Index("ix_lookup_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_key: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Sku(Base):
    """A product. `on_hand`/`reserved` are the sums over its warehouses' stock rows.

    The sums are kept by the same statements that change a warehouse row (backend/orders/
    inventory.py), so pages and reports that only need the total read one row; the
    truth for reserving is WarehouseStock, and these columns are never written alone.
    """

    __tablename__ = "skus"
    __table_args__ = (
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="never_oversold"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    cost_fen: Mapped[int] = mapped_column(default=0)
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    # The product's own catalogue photo, kept in the photo store: a return photo that is a
    # copy of it (its pHash within reach) is no evidence and goes to a person.
    image_name: Mapped[str | None] = mapped_column(String(40))
    image_thumbnail_name: Mapped[str | None] = mapped_column(String(40))
    image_hash: Mapped[str | None] = mapped_column(String(16))
    # Variants of one product (size, colour) share a product code: what 换货 may swap between.
    product_code: Mapped[str | None] = mapped_column(String(64), index=True)
    variant_label: Mapped[str | None] = mapped_column(String(64))  # e.g. "M / 白色"
    # The shop's list price; None means "the price the customer paid" for an exchange.
    price_fen: Mapped[int | None]


class Warehouse(Base):
    """A place stock is kept and parcels leave from, with the sender address a waybill needs."""

    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Short or full province names and region names (华东 ...) it serves as if local.
    serves: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Lower ships first when two warehouses are equally near.
    priority: Mapped[int] = mapped_column(default=100)
    active: Mapped[bool] = mapped_column(default=True)
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    province: Mapped[str] = mapped_column(String(32), default="")  # where it ships from
    city: Mapped[str] = mapped_column(String(32), default="")
    district: Mapped[str] = mapped_column(String(32), default="")
    street: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WarehouseStock(Base):
    __tablename__ = "warehouse_stock"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "sku_id"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="never_oversold"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)


class StockMovement(Base):
    """The stock ledger: every change of a warehouse's on_hand, with why and who."""

    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    kind: Mapped[MovementKind] = mapped_column(EnumText(MovementKind, 20))
    # The change of on_hand (negative out, positive in); for a write-off, the units written
    # off, which never came back on the shelf, so on_hand does not change.
    quantity: Mapped[int]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    # What may happen only once (a returned line restocked or written off): the database
    # refuses the second row, so a repeated inspection cannot restock twice.
    key: Mapped[str | None] = mapped_column(String(80), unique=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TransferProposal(Base):
    """调拨: units another warehouse could send so that an order can ship from one place."""

    __tablename__ = "transfer_proposals"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    from_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    to_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    quantity: Mapped[int]
    lead_days: Mapped[int]
    status: Mapped[TransferStatus] = mapped_column(
        EnumText(TransferStatus, 10), default=TransferStatus.PROPOSED, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(120))


class ChannelSku(Base):
    """A channel's own SKU id mapped to ours (Taobao's sku_id, Shopify's sku ...)."""

    __tablename__ = "channel_skus"
    __table_args__ = (UniqueConstraint("channel", "channel_sku"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[SalesChannel] = mapped_column(EnumText(SalesChannel, 20))
    channel_sku: Mapped[str] = mapped_column(String(64))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))


class Reservation(Base):
    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    # Null only for rows from before warehouses; the migration fills both in.
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"), index=True)
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
    quantity: Mapped[int]
    state: Mapped[ReservationState] = mapped_column(
        EnumText(ReservationState, 10), default=ReservationState.RESERVED
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReconciliationReport(Base):
    __tablename__ = "reconciliation_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[SalesChannel] = mapped_column(EnumText(SalesChannel, 20), index=True)
    # The store whose export this was; None: the whole channel (before shops, or one shop).
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    day: Mapped[date]
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rows_in_export: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
