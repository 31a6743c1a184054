"""Return requests, their lines and photos, and refunds with the key stored before any call."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.refunds.cancel_lifecycle import CancelPath, CancelStatus
from backend.refunds.in_transit_lifecycle import InTransitMethod, InTransitStatus
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.rules import RefundType


class ReturnRequest(Base):
    __tablename__ = "return_requests"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[ReturnStatus] = mapped_column(EnumText(ReturnStatus, 20), index=True)
    refund_type: Mapped[RefundType] = mapped_column(EnumText(RefundType, 20))
    reason: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    amount_fen: Mapped[int]
    approved_amount_fen: Mapped[int | None]
    # Every rule evaluated, passed or not, so the customer sees why in plain words.
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The rules version that made the decision (backend/rulebook); 0: the environment's.
    rules_version: Mapped[int] = mapped_column(default=0, server_default="0")
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    review_due_at: Mapped[datetime | None]
    # The parcel the customer sends back (退货退款), tracked like any other shipment.
    return_shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    # The warehouse's look at the returned item: "ok" or "problem: <note>".
    inspection: Mapped[str | None] = mapped_column(String(200))
    inspected_at: Mapped[datetime | None]
    # Signed in by the warehouse or delivered back by the carrier: no longer owed to us.
    parcel_received_at: Mapped[datetime | None]
    # A staff check of a return parcel gone quiet; the quiet clock restarts from it.
    parcel_checked_at: Mapped[datetime | None]
    parcel_check_note: Mapped[str | None] = mapped_column(String(200))
    # A rejected request may be asked again once, with more evidence: unique, so twice can't be.
    resubmitted_from: Mapped[int | None] = mapped_column(
        ForeignKey("return_requests.id"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("return_requests.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    quantity: Mapped[int]


class RefundState(StrEnum):
    STORED = "stored"  # the row and its key exist; the gateway has not answered yet
    PROCESSING = "processing"
    SUCCESS = "success"
    CLOSED = "closed"
    ABNORMAL = "abnormal"  # WeChat: the money could not reach the account; finance acts
    FAILED = "failed"  # the gateway refused; nothing was paid


# Refunds in these states count against what was paid: money gone or possibly going.
COMMITTED_STATES = frozenset(
    {RefundState.STORED, RefundState.PROCESSING, RefundState.SUCCESS, RefundState.ABNORMAL}
)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    return_id: Mapped[int | None] = mapped_column(ForeignKey("return_requests.id"), index=True)
    gateway: Mapped[str] = mapped_column(String(20))
    # Stored before the gateway is called and reused by every retry: never paid twice.
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount_fen: Mapped[int]
    status: Mapped[RefundState] = mapped_column(
        EnumText(RefundState, 12), default=RefundState.STORED
    )
    raw_status: Mapped[str | None] = mapped_column(String(40))
    gateway_refund_id: Mapped[str | None] = mapped_column(String(64))
    received_account: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    succeeded_at: Mapped[datetime | None]


class ReturnPhoto(Base):
    __tablename__ = "return_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    return_id: Mapped[int | None] = mapped_column(ForeignKey("return_requests.id"), index=True)
    storage_name: Mapped[str] = mapped_column(String(40))
    thumbnail_name: Mapped[str] = mapped_column(String(40))
    width: Mapped[int]
    height: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    # 64-bit pHash as 16 hex digits (backend/refunds/photo_checks.py); None before 0032.
    perceptual_hash: Mapped[str | None] = mapped_column(String(16))
    # Set when the request is filed: the photo of ANOTHER order's return it matches, or the
    # SKU whose catalogue image it copies. Either keeps the request from auto-approval.
    reused_photo_id: Mapped[int | None] = mapped_column(ForeignKey("return_photos.id"))
    catalogue_sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    # Indexed: the reuse check compares only photos of the last REUSE_LOOKBACK.
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class OrderCancellation(Base):
    """The customer's (or staff's) cancel of one order: at most one, so a repeat is a no-op."""

    __tablename__ = "order_cancellations"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    path: Mapped[CancelPath] = mapped_column(EnumText(CancelPath, 16))
    status: Mapped[CancelStatus] = mapped_column(EnumText(CancelStatus, 16))
    reason: Mapped[str] = mapped_column(String(40))
    requested_by: Mapped[str] = mapped_column(String(64))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    refund_fen: Mapped[int] = mapped_column(default=0)
    # PACKED path: the sealed parcel waits in the warehouse until somebody opens it.
    unpacked_at: Mapped[datetime | None]
    unpacked_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InTransitRefund(Base):
    """仅退款 for one parcel still on the road: intercepted (拦截退回) or refused (拒收).

    Unique per parcel, so a repeated or racing request is one row; the refund is released
    when the carrier reports the parcel coming back (backend/refunds/in_transit.py).
    """

    __tablename__ = "in_transit_refunds"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    method: Mapped[InTransitMethod] = mapped_column(EnumText(InTransitMethod, 12))
    status: Mapped[InTransitStatus] = mapped_column(EnumText(InTransitStatus, 20), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    # The lines of this parcel, capped at what is still unrefunded of the payment.
    amount_fen: Mapped[int]
    # Every rule evaluated when the parcel came back, so the customer sees why.
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    # What the carrier said about the intercept (its task id or its refusal).
    carrier_note: Mapped[str | None] = mapped_column(String(200))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    # Signed in at the warehouse: its units went back on sale then, once.
    received_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
