"""Staff accounts and their login sessions: who may use the staff pages, in which role."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText


class Role(StrEnum):
    SUPPORT = "support"
    WAREHOUSE = "warehouse"
    FINANCE = "finance"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(EnumText(Role, 20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    last_failed_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionEnd(StrEnum):
    """Why a staff session stopped before its expiry."""

    LOGGED_OUT = "logged_out"
    ACCOUNT_DISABLED = "account_disabled"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a reason, not a password)


class StaffSession(Base):
    """One staff login. The cookie holds the random id; only its SHA-256 is kept here."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Written at most every few minutes (see accounts.LAST_SEEN_RESOLUTION), not per page.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    ended_because: Mapped[SessionEnd | None] = mapped_column(EnumText(SessionEnd, 20))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
