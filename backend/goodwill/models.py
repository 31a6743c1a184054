from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.goodwill.lifecycle import GoodwillStatus


class GoodwillRefund(Base):
    __tablename__ = "goodwill_refunds"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        # The form's one-time token: a double click or a replayed form is the same request.
        UniqueConstraint("order_id", "request_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    request_key: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[GoodwillStatus] = mapped_column(EnumText(GoodwillStatus, 20), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
