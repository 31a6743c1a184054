"""The staff second factor: TOTP (RFC 6238) with single-use recovery codes.

Admin, finance and supervisor must enrol (they can move money or manage people); the other
roles may. A password alone then only proves half: log_in answers SecondFactorNeeded, and
complete_login opens the session once a code is right. Wrong codes count towards the same
lockout as wrong passwords, and a code is accepted once: its 30 s step (or any older one)
is refused afterwards (RFC 6238 section 5.2).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.staff.accounts import (
    LOGIN_FAILURE_LIMIT,
    LOGIN_LOCKOUT,
    LoginLocked,
    StaffLogin,
    StaffNotFound,
    check_may_manage_staff,
    end_all_sessions,
    open_session,
    staff_for_update,
)
from backend.staff.models import RecoveryCode, Role, SessionEnd, StaffUser

# Protocol facts: docs/protocols.md, "TOTP second factor".
SECOND_FACTOR_ROLES = frozenset({Role.ADMIN, Role.FINANCE, Role.SUPERVISOR})
ISSUER = "Order Portal"
# One step either side (±30 s): a phone clock a little off still works, and no wider.
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10


class WrongCode(Exception):
    """The code is not a current TOTP code, was used already, or is no unused recovery code."""


class NotEnrolling(Exception):
    """Confirming an enrolment that was never begun, or one already finished."""


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret as text, and the otpauth:// URI for the QR."""

    secret: str
    uri: str


def second_factor_required(role: Role) -> bool:
    return role in SECOND_FACTOR_ROLES


def _check_self(actor: Actor, user: StaffUser) -> None:
    # Only the member enrols their own authenticator: an admin who saw the secret could log
    # in as them. Admins reset a lost factor instead (reset_second_factor).
    if not (actor.kind == ActorKind.STAFF and actor.identifier == user.name):
        raise PermissionError("a staff member enrols their own second factor")


def _user_for_update(session: Session, staff_id: int) -> StaffUser:
    user = session.scalars(
        select(StaffUser).where(StaffUser.id == staff_id).with_for_update()
    ).first()
    if user is None:
        raise StaffNotFound(str(staff_id))
    return user


def begin_enrolment(database: Database, staff_id: int, actor: Actor) -> Enrolment:
    """A new secret, kept unconfirmed; reloading the page shows the same one until confirmed."""
    with database.write() as session:
        user = _user_for_update(session, staff_id)
        _check_self(actor, user)
        if user.totp_enabled_at is not None:
            raise NotEnrolling
        if user.totp_secret is None:
            user.totp_secret = pyotp.random_base32()
        secret, name = user.totp_secret, user.name
    uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)
    return Enrolment(secret, uri)


def confirm_enrolment(
    database: Database, staff_id: int, code: str, actor: Actor, now: datetime | None = None
) -> tuple[str, ...]:
    """The first right code turns the factor on; answers the recovery codes, shown only now."""
    now = now or utcnow()
    codes = tuple(_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT))
    with database.write() as session:
        user = _user_for_update(session, staff_id)
        _check_self(actor, user)
        if user.totp_secret is None or user.totp_enabled_at is not None:
            raise NotEnrolling
        step = _accepted_step(user, code, now)
        if step is None:
            raise WrongCode
        user.totp_enabled_at = now
        user.last_totp_step = step
        session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == user.id))
        session.add_all(
            RecoveryCode(staff_id=user.id, code_hash=_hash_code(c), created_at=now) for c in codes
        )
        audit.record(
            session,
            actor,
            "staff.second_factor_enrolled",
            subject="staff",
            subject_id=user.id,
            after={"recovery_codes": len(codes)},
            at=now,
        )
    return codes


def complete_login(
    database: Database,
    staff_id: int,
    code: str,
    ip: str | None,
    user_agent: str | None,
    lifetime: timedelta,
    now: datetime | None = None,
) -> StaffLogin:
    """The second half of a login: a TOTP code or a recovery code, then the session opens."""
    now = now or utcnow()
    login: StaffLogin | None = None
    with database.write() as session:
        user = _user_for_update(session, staff_id)
        if not user.active or user.totp_enabled_at is None:
            raise WrongCode
        recent_failure = bool(
            user.last_failed_login_at and user.last_failed_login_at > now - LOGIN_LOCKOUT
        )
        if user.failed_logins >= LOGIN_FAILURE_LIMIT and recent_failure:
            raise LoginLocked
        identity_actor = Actor(ActorKind.STAFF, user.name, ip=ip, channel="admin", role=user.role)
        used = _use_code(session, user, code, now, identity_actor)
        if used:
            login = open_session(session, user, now, ip, user_agent, lifetime)
        else:
            user.failed_logins = user.failed_logins + 1 if recent_failure else 1
            user.last_failed_login_at = now
            audit.record(
                session,
                identity_actor,
                "staff.second_factor_wrong_code",
                subject="staff",
                subject_id=user.id,
                after={"failed_logins": user.failed_logins},
                at=now,
            )
    if login is None:
        raise WrongCode
    return login


def _use_code(session: Session, user: StaffUser, code: str, now: datetime, actor: Actor) -> bool:
    cleaned = "".join(code.split())
    if len(cleaned) == 6 and cleaned.isdigit():
        step = _accepted_step(user, cleaned, now)
        if step is None:
            return False
        user.last_totp_step = step
        return True
    row = session.scalars(
        select(RecoveryCode)
        .where(
            RecoveryCode.staff_id == user.id,
            RecoveryCode.code_hash == _hash_code(cleaned),
            RecoveryCode.used_at.is_(None),
        )
        .with_for_update()
    ).first()
    if row is None:
        return False
    row.used_at = now
    left = session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.staff_id == user.id, RecoveryCode.used_at.is_(None)
        )
    ).all()
    audit.record(
        session,
        actor,
        "staff.recovery_code_used",
        subject="staff",
        subject_id=user.id,
        after={"recovery_codes_left": len(left)},
        at=now,
    )
    return True


def _accepted_step(user: StaffUser, code: str, now: datetime) -> int | None:
    """The step of a right code within ±VALID_WINDOW, newer than the last one accepted."""
    if user.totp_secret is None:
        return None
    totp = pyotp.TOTP(user.totp_secret)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if user.last_totp_step is not None and step <= user.last_totp_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code.strip()):
            return step
    return None


def reset_second_factor(database: Database, name: str, actor: Actor) -> bool:
    """For a lost phone: the factor and its recovery codes go, and so do the sessions.

    A role that requires a factor enrols again at the next login.
    """
    now = utcnow()
    with database.write() as session:
        check_may_manage_staff(actor)
        user = staff_for_update(session, name)
        if user.totp_secret is None and user.totp_enabled_at is None:
            return False
        was_enabled = user.totp_enabled_at is not None
        user.totp_secret = None
        user.totp_enabled_at = None
        user.last_totp_step = None
        session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == user.id))
        ended = end_all_sessions(session, user.id, SessionEnd.SECOND_FACTOR_RESET, now)
        audit.record(
            session,
            actor,
            "staff.second_factor_reset",
            subject="staff",
            subject_id=user.id,
            before={"enabled": was_enabled},
            after={"enabled": False, "sessions_ended": ended},
            at=now,
        )
    return True


def _new_recovery_code() -> str:
    raw = secrets.token_hex(5)  # 40 bits each, single use, behind the password: enough
    return f"{raw[:5]}-{raw[5:]}"


def _hash_code(code: str) -> str:
    # Random codes, not passwords: a plain SHA-256 is enough (nothing to guess from it).
    normal = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(normal.encode()).hexdigest()
