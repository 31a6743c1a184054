"""Staff account services: who may disable, enable and reset, and what each one ends."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.staff import accounts
from backend.staff.accounts import StaffNotFound
from backend.staff.models import Role, StaffSession, StaffUser
from backend.staff.permissions import PermissionDenied, StaffIdentity

SYSTEM = Actor(ActorKind.SYSTEM, "test")
PASSWORD = "correct-horse-battery"
HOURS = timedelta(hours=12)


def staff(database, name: str, role: Role) -> StaffIdentity:
    accounts.add_staff(database, name, role, PASSWORD, SYSTEM)
    return accounts.log_in(database, name, PASSWORD, "10.0.0.9", "Desk/1.0", HOURS).identity


def snapshot(database, name: str):
    with database.read() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.name == name)).one()
        ended = session.scalars(
            select(StaffSession.ended_at).where(StaffSession.staff_id == user.id)
        ).all()
        events = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    return user.active, user.password_hash, ended, events


@pytest.mark.parametrize(
    "call",
    [
        lambda db, actor: accounts.disable_staff(db, "小王", actor),
        lambda db, actor: accounts.enable_staff(db, "小王", actor),
        lambda db, actor: accounts.change_password(db, "小王", "another-password", actor),
        lambda db, actor: accounts.add_staff(db, "新人", Role.ADMIN, PASSWORD, actor),
    ],
    ids=["disable", "enable", "password", "add"],
)
def test_staff_without_the_manage_staff_permission_change_nothing(database, call):
    support = staff(database, "小李", Role.SUPPORT)
    staff(database, "小王", Role.SUPPORT)
    before = snapshot(database, "小王")
    with pytest.raises(PermissionDenied):
        call(database, support.actor("10.0.0.9"))
    assert snapshot(database, "小王") == before


def test_an_admin_disables_a_colleague_and_the_trail_names_the_admin(database):
    admin = staff(database, "老张", Role.ADMIN)
    colleague = staff(database, "小王", Role.SUPPORT)
    assert accounts.disable_staff(database, "小王", admin.actor("10.0.0.9")) == 1
    assert accounts.disable_staff(database, "小王", admin.actor("10.0.0.9")) == 0
    with database.read() as session:
        events = session.execute(
            select(AuditEvent.actor_kind, AuditEvent.actor_id, AuditEvent.ip).where(
                AuditEvent.action == "staff.disabled",
                AuditEvent.subject_id == str(colleague.id),
            )
        ).all()
    assert [tuple(e) for e in events] == [("staff", "老张", "10.0.0.9")]


def test_staff_log_out_their_own_session_but_not_someone_elses(database):
    accounts.add_staff(database, "小李", Role.SUPPORT, PASSWORD, SYSTEM)
    accounts.add_staff(database, "小王", Role.SUPPORT, PASSWORD, SYSTEM)
    mine = accounts.log_in(database, "小李", PASSWORD, None, None, HOURS)
    theirs = accounts.log_in(database, "小王", PASSWORD, None, None, HOURS)
    with pytest.raises(PermissionDenied):
        accounts.end_session(database, theirs.session_token, mine.identity.actor())
    assert accounts.get_staff_session(database, theirs.session_token) is not None
    assert accounts.end_session(database, mine.session_token, mine.identity.actor()) is True
    assert accounts.get_staff_session(database, mine.session_token) is None
    assert accounts.end_session(database, mine.session_token, mine.identity.actor()) is False


def test_an_unknown_name_is_said_so(database):
    with pytest.raises(StaffNotFound):
        accounts.disable_staff(database, "nobody", SYSTEM)


def test_only_staff_with_the_permission_and_the_operator_manage_staff_not_a_customer(database):
    staff(database, "小王", Role.SUPPORT)
    before = snapshot(database, "小王")
    customer = Actor(ActorKind.CUSTOMER, "customer:T1")
    with pytest.raises(PermissionDenied):
        accounts.disable_staff(database, "小王", customer)
    assert snapshot(database, "小王") == before
