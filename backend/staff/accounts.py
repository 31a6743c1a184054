"""Staff accounts and sessions: adding, disabling, passwords, login and logout."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Result, bindparam, select, update
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.staff.models import Role, SessionEnd, StaffSession, StaffUser
from backend.staff.permissions import (
    Permission,
    StaffIdentity,
    check_permission,
    scoped_warehouse,
)

LOGIN_FAILURE_LIMIT = 10
LOGIN_LOCKOUT = timedelta(minutes=15)
# last_seen_at is kept to this precision: writing it on every staff page would add a
# write to every page; once per five minutes per session is enough for an audit trail.
LAST_SEEN_RESOLUTION = timedelta(minutes=5)

# Argon2id with the library's defaults (64 MiB, 3 passes): slow for an attacker, ~50 ms for us.
_hasher = PasswordHasher()
# Verifying against this when the name is unknown keeps both answers equally slow.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class InvalidCredentials(Exception):
    """Wrong name or password; deliberately the same answer for both."""


class LoginLocked(Exception):
    """Too many failed logins for this account: wait before trying again."""


class StaffNameTaken(Exception):
    """A staff member with that name already exists."""


class StaffNotFound(Exception):
    """No staff member has that name."""


class CannotDisableSelf(Exception):
    """An admin may not disable their own account (they would lock themself out)."""


class LastActiveAdmin(Exception):
    """The change would leave no active admin: nobody could manage staff any more."""


@dataclass(frozen=True)
class SecondFactorNeeded:
    """The password was right and the account has a second factor: ask for the code next."""

    staff_id: int


@dataclass(frozen=True)
class StaffLogin:
    """A successful login: who, and the secret the cookie carries (only its hash is stored)."""

    identity: StaffIdentity
    session_token: str


@dataclass(frozen=True)
class CurrentStaffSession:
    """A live staff session and the staff member behind it, loaded in one query."""

    session_id: int
    last_seen_at: datetime
    identity: StaffIdentity
    second_factor_enrolled: bool = False
    password_change_required: bool = False

    def needs_touch(self, now: datetime) -> bool:
        return now - self.last_seen_at >= LAST_SEEN_RESOLUTION


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if len(password) < 8:
        raise ValueError("a password has at least 8 characters")


def check_may_manage_staff(actor: Actor) -> None:
    """Staff need MANAGE_STAFF; the CLI (a system actor) is trusted by the operator."""
    check_permission(actor, Permission.MANAGE_STAFF, also={ActorKind.SYSTEM})


def staff_for_update(session: Session, name: str) -> StaffUser:
    user = session.scalars(
        select(StaffUser).where(StaffUser.name == name.strip()).with_for_update()
    ).first()
    if user is None:
        raise StaffNotFound(name)
    return user


def end_all_sessions(session: Session, staff_id: int, reason: SessionEnd, now: datetime) -> int:
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, ended_because=reason)
    )
    return _rowcount(result)


def _rowcount(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def add_staff(database: Database, name: str, role: Role, password: str, actor: Actor) -> int:
    name = name.strip()
    if not name or len(name) > 64:
        raise ValueError("a staff name is 1 to 64 characters")
    check_password(password)
    password_hash = _hasher.hash(password)
    with database.write() as session:
        check_may_manage_staff(actor)
        if session.scalar(select(StaffUser.id).where(StaffUser.name == name)) is not None:
            raise StaffNameTaken(name)
        user = StaffUser(name=name, role=role, password_hash=password_hash)
        session.add(user)
        session.flush()
        audit.record(
            session,
            actor,
            "staff.added",
            subject="staff",
            subject_id=user.id,
            after={"name": name, "role": str(role)},
        )
        return user.id


def log_in(
    database: Database,
    name: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
    lifetime: timedelta,
) -> StaffLogin | SecondFactorNeeded:
    """Check the password and open a session, in one transaction; every attempt counts.

    With a second factor enrolled no session opens yet: second_factor.complete_login does.
    """
    now = utcnow()
    login: StaffLogin | SecondFactorNeeded | None
    with database.write() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.name == name.strip())).first()
        if user is None or not user.active:
            _verify(_DUMMY_HASH, password)
            raise InvalidCredentials
        recent_failure = (
            user.last_failed_login_at and user.last_failed_login_at > now - LOGIN_LOCKOUT
        )
        if user.failed_logins >= LOGIN_FAILURE_LIMIT and recent_failure:
            raise LoginLocked
        if not _verify(user.password_hash, password):
            user.failed_logins = user.failed_logins + 1 if recent_failure else 1
            user.last_failed_login_at = now
            login = None
        elif user.totp_enabled_at is not None:
            login = SecondFactorNeeded(user.id)
        else:
            login = open_session(session, user, now, ip, user_agent, lifetime)
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
    if login is None:
        raise InvalidCredentials
    return login


def open_session(
    session: Session,
    user: StaffUser,
    now: datetime,
    ip: str | None,
    user_agent: str | None,
    lifetime: timedelta,
) -> StaffLogin:
    user.failed_logins = 0
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        staff_id=user.id,
        token_hash=hash_session_token(token),
        created_at=now,
        expires_at=now + lifetime,
        last_seen_at=now,
        ip=ip,
        user_agent=(user_agent or "")[:400] or None,
    )
    session.add(row)
    session.flush()
    identity = StaffIdentity(user.id, user.name, Role(user.role))
    audit.record(
        session,
        identity.actor(ip),
        "staff.logged_in",
        subject="staff",
        subject_id=user.id,
        after={"session_id": row.id},
        at=now,
    )
    return StaffLogin(identity, token)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Built once; the session and its staff member in one statement, as every staff page needs.
_LIVE_SESSION = (
    select(
        StaffSession.id,
        StaffSession.last_seen_at,
        StaffUser.id.label("staff_id"),
        StaffUser.name,
        StaffUser.role,
        StaffUser.totp_enabled_at,
        StaffUser.must_change_password,
        StaffUser.warehouse_id,
    )
    .join(StaffUser, StaffUser.id == StaffSession.staff_id)
    .where(
        StaffSession.token_hash == bindparam("token_hash"),
        StaffSession.ended_at.is_(None),
        StaffSession.expires_at > bindparam("now"),
        StaffUser.active.is_(True),
    )
)


def get_staff_session(
    database: Database, token: str, now: datetime | None = None
) -> CurrentStaffSession | None:
    """None for an unknown, ended or expired session, and for a disabled account."""
    params = {"token_hash": hash_session_token(token), "now": now or utcnow()}
    with database.engine.connect() as connection:
        row = connection.execute(_LIVE_SESSION, params).first()
    if row is None:
        return None
    role = Role(row.role)
    identity = StaffIdentity(row.staff_id, row.name, role, scoped_warehouse(role, row.warehouse_id))
    return CurrentStaffSession(
        row.id,
        row.last_seen_at,
        identity,
        second_factor_enrolled=row.totp_enabled_at is not None,
        password_change_required=bool(row.must_change_password),
    )


def touch_staff_session(database: Database, session_id: int, now: datetime | None = None) -> None:
    """Bookkeeping for "last seen", not a change anyone made: no audit event."""
    with database.write() as session:
        session.execute(
            update(StaffSession)
            .where(StaffSession.id == session_id, StaffSession.ended_at.is_(None))
            .values(last_seen_at=now or utcnow())
        )


def end_session(database: Database, token: str, actor: Actor) -> bool:
    """Logout: the session stops working on the server, whatever happens to the cookie."""
    now = utcnow()
    with database.write() as session:
        row = session.execute(
            select(StaffSession.id, StaffUser.id.label("staff_id"), StaffUser.name)
            .join(StaffUser, StaffUser.id == StaffSession.staff_id)
            .where(
                StaffSession.token_hash == hash_session_token(token),
                StaffSession.ended_at.is_(None),
            )
            .with_for_update(of=StaffSession)
        ).first()
        if row is None:
            return False
        if not (actor.kind == ActorKind.STAFF and actor.identifier == row.name):
            check_may_manage_staff(actor)
        session.execute(
            update(StaffSession)
            .where(StaffSession.id == row.id)
            .values(ended_at=now, ended_because=SessionEnd.LOGGED_OUT)
        )
        audit.record(
            session,
            actor,
            "staff.logged_out",
            subject="staff",
            subject_id=row.staff_id,
            after={"session_id": row.id},
            at=now,
        )
    return True


def disable_staff(database: Database, name: str, actor: Actor) -> int:
    """The account can no longer log in, and every open session of it ends now."""
    now = utcnow()
    with database.write() as session:
        check_may_manage_staff(actor)
        user = staff_for_update(session, name)
        if actor.kind == ActorKind.STAFF and actor.identifier == user.name:
            raise CannotDisableSelf
        if user.active and user.role == Role.ADMIN:
            check_not_last_admin(session, user)
        was_active = user.active
        user.active = False
        ended = end_all_sessions(session, user.id, SessionEnd.ACCOUNT_DISABLED, now)
        if was_active or ended:
            audit.record(
                session,
                actor,
                "staff.disabled",
                subject="staff",
                subject_id=user.id,
                before={"active": was_active},
                after={"active": False, "sessions_ended": ended},
                at=now,
            )
    return ended


def check_not_last_admin(session: Session, user: StaffUser) -> None:
    """Called before an active admin stops being one (disabled, or given another role)."""
    others = session.scalars(
        select(StaffUser.id)
        .where(StaffUser.role == Role.ADMIN, StaffUser.active.is_(True), StaffUser.id != user.id)
        .with_for_update()
    ).first()
    if others is None:
        raise LastActiveAdmin


def enable_staff(database: Database, name: str, actor: Actor) -> bool:
    """The account may log in again; the sessions that disabling ended stay ended."""
    with database.write() as session:
        check_may_manage_staff(actor)
        user = staff_for_update(session, name)
        if user.active:
            return False
        user.active = True
        audit.record(
            session,
            actor,
            "staff.enabled",
            subject="staff",
            subject_id=user.id,
            before={"active": False},
            after={"active": True},
        )
    return True


def change_password(database: Database, name: str, new_password: str, actor: Actor) -> int:
    """A new password, and every session opened with the old one ends."""
    check_password(new_password)
    # Hashed before the transaction: argon2 takes ~50 ms, too long to hold SQLite's lock.
    password_hash = _hasher.hash(new_password)
    now = utcnow()
    with database.write() as session:
        check_may_manage_staff(actor)
        user = staff_for_update(session, name)
        user.password_hash = password_hash
        ended = end_all_sessions(session, user.id, SessionEnd.PASSWORD_CHANGED, now)
        audit.record(
            session,
            actor,
            "staff.password_changed",
            subject="staff",
            subject_id=user.id,
            after={"sessions_ended": ended},
            at=now,
        )
    return ended


def change_own_password(
    database: Database,
    staff_id: int,
    session_id: int,
    current_password: str,
    new_password: str,
    actor: Actor,
) -> int:
    """A member picks a new password (after an admin's reset, or any time).

    The current password is asked again: a session left open on a shared counter computer
    must not be enough to take the account. The member's other sessions end; this one stays.
    """
    check_password(new_password)
    password_hash = hash_password(new_password)
    now = utcnow()
    with database.write() as session:
        user = session.scalars(
            select(StaffUser).where(StaffUser.id == staff_id).with_for_update()
        ).first()
        if user is None or not (actor.kind == ActorKind.STAFF and actor.identifier == user.name):
            raise PermissionError("a staff member changes only their own password")
        if not _verify(user.password_hash, current_password):
            raise InvalidCredentials
        if _verify(user.password_hash, new_password):
            raise ValueError("the new password is the old one")
        user.password_hash = password_hash
        user.must_change_password = False
        ended = _rowcount(
            session.execute(
                update(StaffSession)
                .where(
                    StaffSession.staff_id == user.id,
                    StaffSession.ended_at.is_(None),
                    StaffSession.id != session_id,
                )
                .values(ended_at=now, ended_because=SessionEnd.PASSWORD_CHANGED)
            )
        )
        audit.record(
            session,
            actor,
            "staff.own_password_changed",
            subject="staff",
            subject_id=user.id,
            after={"sessions_ended": ended},
            at=now,
        )
    return ended
