"""Staff accounts and their login sessions: who may use the staff pages, in which role."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.personal_data import EncryptedString


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
    # Second factor (backend/staff/second_factor.py). A secret without totp_enabled_at is an
    # enrolment begun but not yet confirmed with a code. Plain base32 until the encrypted
    # column type lands. last_totp_step is the RFC 6238 time step of the last code accepted:
    # a code of that step or an older one is refused, so a code works once.
    # Sealed at rest like phones: with it, anyone could make the member's codes.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedString("staff_users.totp_secret"))
    totp_enabled_at: Mapped[datetime | None]
    last_totp_step: Mapped[int | None] = mapped_column(BigInteger)
    # An admin's reset sets it: the temporary password the admin saw works for one change.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A warehouse login tied to one warehouse sees only the orders allocated there (orders
    # reserved at it); None: every order, as in a merchant with one warehouse.
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))


class RecoveryCode(Base):
    """A single-use code for a staff member who lost their authenticator; only its hash is kept."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class SessionEnd(StrEnum):
    """Why a staff session stopped before its expiry."""

    LOGGED_OUT = "logged_out"
    ACCOUNT_DISABLED = "account_disabled"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a reason, not a password)
    SECOND_FACTOR_RESET = "second_factor_reset"


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
