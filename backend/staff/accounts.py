"""Staff accounts: adding staff, and password login with a memory-hard hash."""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from backend import audit
from backend.actors import Actor
from backend.db import Database, utcnow
from backend.staff.models import Role, StaffUser
from backend.staff.permissions import StaffIdentity

LOGIN_FAILURE_LIMIT = 10
LOGIN_LOCKOUT = timedelta(minutes=15)

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


def add_staff(database: Database, name: str, role: Role, password: str, actor: Actor) -> int:
    name = name.strip()
    if not name or len(name) > 64:
        raise ValueError("a staff name is 1 to 64 characters")
    if len(password) < 8:
        raise ValueError("a password has at least 8 characters")
    with database.write() as session:
        if session.scalar(select(StaffUser.id).where(StaffUser.name == name)) is not None:
            raise StaffNameTaken(name)
        user = StaffUser(name=name, role=role, password_hash=_hasher.hash(password))
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


def authenticate(database: Database, name: str, password: str, ip: str | None) -> StaffIdentity:
    now = utcnow()
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
            identity = None
        else:
            user.failed_logins = 0
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            identity = StaffIdentity(user.id, user.name, Role(user.role))
            audit.record(
                session, identity.actor(ip), "staff.logged_in", subject="staff", subject_id=user.id
            )
    if identity is None:
        raise InvalidCredentials
    return identity


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_staff(database: Database, staff_id: int) -> StaffIdentity | None:
    with database.read() as session:
        user = session.get(StaffUser, staff_id)
    if user is None or not user.active:
        return None
    return StaffIdentity(user.id, user.name, Role(user.role))
