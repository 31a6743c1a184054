"""Invoice requests: the title the customer asked for, its status, and the issued PDF."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.invoices.lifecycle import InvoiceStatus


class TitleKind(StrEnum):
    PERSONAL = "personal"  # 个人: a name only
    COMPANY = "company"  # 单位: needs the 统一社会信用代码 and an email


class InvoiceRequest(Base):
    __tablename__ = "invoice_requests"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[InvoiceStatus] = mapped_column(EnumText(InvoiceStatus, 20), index=True)
    title_kind: Mapped[TitleKind] = mapped_column(EnumText(TitleKind, 12))
    title: Mapped[str] = mapped_column(String(100))
    tax_number: Mapped[str | None] = mapped_column(String(18))
    email: Mapped[str | None] = mapped_column(String(120))
    # What was paid when asked: the invoice is for the money actually received.
    amount_fen: Mapped[int]
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    issued_at: Mapped[datetime | None]
    # Deferred: queue pages list many requests and never need the file itself.
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    reversal_flagged_at: Mapped[datetime | None]
    reversed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
