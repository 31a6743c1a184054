"""What each robot was last told about each kind of trouble, so a storm is one message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base


class RobotAlert(Base):
    __tablename__ = "robot_alerts"
    __table_args__ = (UniqueConstraint("robot", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    robot: Mapped[str] = mapped_column(String(20))  # "wecom" or "dingtalk"
    kind: Mapped[str] = mapped_column(String(30))  # a TroubleKind
    # The keys of the troubles in the last message, to tell a new one from one already told.
    keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
