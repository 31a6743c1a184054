"""The second factor and the roster services, at fixed instants, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.staff import roster, second_factor
from backend.staff.accounts import LastActiveAdmin, add_staff, disable_staff
from backend.staff.models import Role, StaffUser
from backend.staff.permissions import PermissionDenied, StaffIdentity

SYSTEM = Actor(ActorKind.SYSTEM, "test")
PASSWORD = "correct-horse-battery"
T0 = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
LIFETIME = timedelta(hours=1)


def _actor(database, name: str) -> Actor:
    with database.read() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.name == name)).one()
        return StaffIdentity(user.id, user.name, Role(user.role)).actor()


def _enrolled(database, name="fin", role=Role.FINANCE):
    staff_id = add_staff(database, name, role, PASSWORD, SYSTEM)
    me = _actor(database, name)
    enrolment = second_factor.begin_enrolment(database, staff_id, me)
    assert second_factor.begin_enrolment(database, staff_id, me) == enrolment  # same on reload
    totp = pyotp.TOTP(enrolment.secret)
    codes = second_factor.confirm_enrolment(database, staff_id, totp.at(T0), me, now=T0)
    return staff_id, totp, codes


def _login(database, staff_id, code, at):
    return second_factor.complete_login(database, staff_id, code, None, None, LIFETIME, now=at)


def test_one_step_either_side_is_accepted_once_and_never_an_older_step(database):
    staff_id, totp, _ = _enrolled(database)
    at = T0 + timedelta(seconds=60)  # two steps after enrolment
    _login(database, staff_id, totp.at(at - timedelta(seconds=30)), at)  # one step behind: ok
    with pytest.raises(second_factor.WrongCode):  # the same step again
        _login(database, staff_id, totp.at(at - timedelta(seconds=30)), at)
    with pytest.raises(second_factor.WrongCode):  # two steps ahead: outside the window
        _login(database, staff_id, totp.at(at + timedelta(seconds=60)), at)
    _login(database, staff_id, totp.at(at + timedelta(seconds=30)), at)  # one ahead: ok
    with pytest.raises(second_factor.WrongCode):  # now the current step is older than the last
        _login(database, staff_id, totp.at(at), at)


def test_enrolment_needs_a_right_code_and_is_the_members_own(database):
    staff_id = add_staff(database, "sup", Role.SUPERVISOR, PASSWORD, SYSTEM)
    me = _actor(database, "sup")
    enrolment = second_factor.begin_enrolment(database, staff_id, me)
    with pytest.raises(PermissionError):
        second_factor.begin_enrolment(database, staff_id, SYSTEM)
    with pytest.raises(second_factor.WrongCode):
        second_factor.confirm_enrolment(database, staff_id, "000000", me, now=T0)
    with database.read() as session:
        assert session.get(StaffUser, staff_id).totp_enabled_at is None
    code = pyotp.TOTP(enrolment.secret).at(T0)
    assert len(second_factor.confirm_enrolment(database, staff_id, code, me, now=T0)) == 10
    with pytest.raises(second_factor.NotEnrolling):
        second_factor.confirm_enrolment(database, staff_id, code, me, now=T0)


def test_recovery_codes_are_single_use_and_reset_needs_manage_staff(database):
    staff_id, _, codes = _enrolled(database)
    _login(database, staff_id, codes[3].upper(), T0)  # case and dash do not matter
    with pytest.raises(second_factor.WrongCode):
        _login(database, staff_id, codes[3], T0)
    add_staff(database, "cs", Role.SUPPORT, PASSWORD, SYSTEM)
    with pytest.raises(PermissionDenied):
        second_factor.reset_second_factor(database, "fin", _actor(database, "cs"))
    assert second_factor.reset_second_factor(database, "fin", SYSTEM) is True
    assert second_factor.reset_second_factor(database, "fin", SYSTEM) is False  # twice: no-op
    with pytest.raises(second_factor.WrongCode):  # nothing enrolled: no code step at all
        _login(database, staff_id, codes[4], T0)


def test_change_role_and_reset_password_are_admin_work_and_audited(database):
    add_staff(database, "boss", Role.ADMIN, PASSWORD, SYSTEM)
    add_staff(database, "cs", Role.SUPPORT, PASSWORD, SYSTEM)
    with pytest.raises(PermissionDenied):
        roster.change_role(database, "boss", Role.SUPPORT, _actor(database, "cs"))
    boss = _actor(database, "boss")
    assert roster.change_role(database, "cs", Role.FINANCE, boss) is True
    assert roster.change_role(database, "cs", Role.FINANCE, boss) is False
    with pytest.raises(LastActiveAdmin):
        roster.change_role(database, "boss", Role.SUPPORT, SYSTEM)
    with pytest.raises(LastActiveAdmin):
        disable_staff(database, "boss", SYSTEM)
    roster.reset_password(database, "cs", roster.temporary_password(), boss)
    with database.read() as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.before, AuditEvent.after)
            .where(AuditEvent.action.in_(["staff.role_changed", "staff.password_reset"]))
            .order_by(AuditEvent.id)
        ).all()
    assert [(e.action, e.before, e.after) for e in events] == [
        ("staff.role_changed", {"role": "support"}, {"role": "finance"}),
        ("staff.password_reset", None, {"sessions_ended": 0}),
    ]
    listing = {m.name: m for m in roster.list_staff(database, boss)}
    assert listing["cs"].role == Role.FINANCE and listing["cs"].second_factor is False
