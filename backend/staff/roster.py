"""The staff list an admin manages, and the admin's changes to a member: role and password.

Adding, disabling and re-enabling live in accounts.py beside login, which they guard.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.staff.accounts import (
    check_may_manage_staff,
    check_not_last_admin,
    check_password,
    end_all_sessions,
    hash_password,
    staff_for_update,
)
from backend.staff.models import Role, SessionEnd, StaffSession, StaffUser
from backend.staff.permissions import Permission, check_permission


@dataclass(frozen=True)
class StaffMember:
    name: str
    role: Role
    active: bool
    second_factor: bool
    last_login_at: datetime | None
    warehouse_id: int | None = None  # a warehouse login tied to one warehouse


def list_staff(database: Database, actor: Actor) -> tuple[StaffMember, ...]:
    """Everyone, active first, by name; the last login from the sessions table (one query)."""
    check_permission(actor, Permission.MANAGE_STAFF)
    last_login = (
        select(StaffSession.staff_id, func.max(StaffSession.created_at).label("at"))
        .group_by(StaffSession.staff_id)
        .subquery()
    )
    with database.read() as session:
        rows = session.execute(
            select(
                StaffUser.name,
                StaffUser.role,
                StaffUser.active,
                StaffUser.totp_enabled_at,
                last_login.c.at,
                StaffUser.warehouse_id,
            )
            .outerjoin(last_login, last_login.c.staff_id == StaffUser.id)
            .order_by(StaffUser.active.desc(), StaffUser.name)
        ).all()
    return tuple(
        StaffMember(
            r.name, Role(r.role), r.active, r.totp_enabled_at is not None, r.at, r.warehouse_id
        )
        for r in rows
    )


def change_role(database: Database, name: str, role: Role, actor: Actor) -> bool:
    """A new role, in force from the member's next request.

    Sessions stay open: every staff request reads the role afresh with the session
    (accounts.get_staff_session), so nothing the old role allowed survives the change.
    A role that requires a second factor sends the member to enrolment on their next page.
    """
    with database.write() as session:
        check_may_manage_staff(actor)
        user = staff_for_update(session, name)
        before = Role(user.role)
        if before == role:
            return False
        if before == Role.ADMIN and user.active:
            check_not_last_admin(session, user)
        user.role = role
        audit.record(
            session,
            actor,
            "staff.role_changed",
            subject="staff",
            subject_id=user.id,
            before={"role": str(before)},
            after={"role": str(role)},
        )
    return True


def temporary_password() -> str:
    """Shown once to the admin, who hands it over; 12 characters an admin can read aloud."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
    return "".join(secrets.choice(alphabet) for _ in range(12))


def reset_password(database: Database, name: str, new_password: str, actor: Actor) -> int:
    """An admin sets a member's password (typed, or temporary_password()); sessions end.

    Unlike accounts.change_password this is always someone else's account: the audit
    event says it was a reset, so the trail tells a forgotten password from a routine change.
    """
    check_password(new_password)
    password_hash = hash_password(new_password)  # before the transaction: argon2 is slow
    now = utcnow()
    with database.write() as session:
        check_may_manage_staff(actor)
        user = staff_for_update(session, name)
        if actor.kind == ActorKind.STAFF and actor.identifier == user.name:
            raise PermissionError("an admin changes their own password, not resets it")
        user.password_hash = password_hash
        user.failed_logins = 0
        user.must_change_password = True  # the admin knows it: the member replaces it first
        ended = end_all_sessions(session, user.id, SessionEnd.PASSWORD_CHANGED, now)
        audit.record(
            session,
            actor,
            "staff.password_reset",
            subject="staff",
            subject_id=user.id,
            after={"sessions_ended": ended},
            at=now,
        )
    return ended
