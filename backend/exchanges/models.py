"""Exchange rows: which delivered line is swapped for which variant, and the replacement order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.exchanges.lifecycle import ExchangeStatus


class Exchange(Base):
    __tablename__ = "exchanges"
    __table_args__ = (CheckConstraint("difference_fen >= 0", name="difference_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # Unique: two taps (or two tabs) exchanging the same line get one exchange, on any database.
    # An abandoned exchange keeps its row, so a line is exchanged at most once, ever.
    from_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    from_sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    to_sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    replacement_order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    status: Mapped[ExchangeStatus] = mapped_column(EnumText(ExchangeStatus, 20), index=True)
    # Paid for the old unit minus the new variant's price: refunded once the old unit is back.
    difference_fen: Mapped[int] = mapped_column(default=0)
    refunded_fen: Mapped[int] = mapped_column(default=0)
    # Decided by the trust rule when filed: the replacement left without waiting for the parcel.
    trusted: Mapped[bool] = mapped_column(default=False)
    trust_reason: Mapped[str] = mapped_column(String(40), default="")
    return_shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"), unique=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(120))
