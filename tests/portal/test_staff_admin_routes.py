"""The admin's staff page over HTTP: add, disable, enable, role, password reset, guards."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.staff.accounts import LastActiveAdmin, add_staff
from backend.staff.models import Role, StaffUser
from backend.staff.roster import change_role
from portal.app import create_app
from tests.portal.helpers import ADMIN, csrf_token, staff_login

PASSWORD = "correct-horse-battery"


def _post(client, path, **data):
    data["csrf_token"] = csrf_token(client, "/admin/login")
    return client.post(path, data=data, follow_redirects=False)


def _user(database, name):
    with database.read() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.name == name)).one()
        session.expunge(user)
        return user


def _actions(database):
    with database.read() as session:
        return session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("staff.%"))
        ).all()


def test_the_list_shows_every_member_in_chinese(client, database):
    staff_login(client, database, Role.ADMIN, "boss")
    add_staff(database, "小王", Role.SUPPORT, PASSWORD, ADMIN)
    page = client.get("/admin/staff")
    assert page.status_code == 200
    assert "小王" in page.text and "boss" in page.text
    assert "员工" in page.text  # the nav link and the heading


def test_add_then_name_taken_and_weak_password_are_friendly(client, database):
    staff_login(client, database, Role.ADMIN, "boss")
    answer = _post(client, "/admin/staff/add", name="new-cs", role="support", password=PASSWORD)
    assert answer.headers["location"] == "/admin/staff?done=added"
    assert _user(database, "new-cs").role == Role.SUPPORT
    again = _post(client, "/admin/staff/add", name="new-cs", role="admin", password=PASSWORD)
    assert again.status_code == 409
    assert _user(database, "new-cs").role == Role.SUPPORT
    weak = _post(client, "/admin/staff/add", name="other", role="support", password="short")
    assert weak.status_code == 422
    garbage = _post(client, "/admin/staff/add", name="x", role="emperor", password=PASSWORD)
    assert garbage.status_code == 400
    with database.read() as session:
        assert session.scalar(select(StaffUser.id).where(StaffUser.name == "other")) is None


def test_disable_ends_the_session_at_once_and_enable_lets_them_log_in(client, settings, database):
    staff_login(client, database, Role.ADMIN, "boss")
    with TestClient(create_app(settings, database)) as support:
        staff_login(support, database, Role.SUPPORT, "cs")
        assert support.get("/admin/orders", follow_redirects=False).status_code == 200
        assert _post(client, "/admin/staff/disable", name="cs").status_code == 303
        assert _post(client, "/admin/staff/disable", name="cs").status_code == 303  # twice: fine
        answer = support.get("/admin/orders", follow_redirects=False)
        assert answer.headers["location"] == "/admin/login"
        assert _user(database, "cs").active is False
        assert _post(client, "/admin/staff/enable", name="cs").status_code == 303
        assert _user(database, "cs").active is True
    assert _actions(database).count("staff.disabled") == 1
    assert _actions(database).count("staff.enabled") == 1


def test_an_admin_cannot_disable_themself_nor_demote_the_last_admin(client, database):
    staff_login(client, database, Role.ADMIN, "boss")
    answer = _post(client, "/admin/staff/disable", name="boss")
    assert answer.status_code == 409
    assert "你不能停用自己的账号" in answer.text
    # The page offers no action on one's own row; a hand-made POST still meets the guard.
    answer = _post(client, "/admin/staff/role", name="boss", role="support")
    assert answer.status_code == 409 and "最后一位在岗管理员" in answer.text
    assert _user(database, "boss").role == Role.ADMIN
    add_staff(database, "boss2", Role.ADMIN, PASSWORD, ADMIN)
    # boss2 may be demoted (boss is still admin) but then boss is the last: refused.
    assert _post(client, "/admin/staff/role", name="boss2", role="support").status_code == 303
    assert _user(database, "boss2").role == Role.SUPPORT
    with pytest.raises(LastActiveAdmin):  # the CLI's system actor meets it too
        change_role(database, "boss", Role.SUPPORT, ADMIN)
    assert _user(database, "boss").role == Role.ADMIN


def test_a_role_change_applies_on_the_next_request(client, settings, database):
    staff_login(client, database, Role.ADMIN, "boss")
    with TestClient(create_app(settings, database)) as member:
        staff_login(member, database, Role.WAREHOUSE, "wh")
        assert member.get("/admin/returns", follow_redirects=False).status_code == 403
        assert _post(client, "/admin/staff/role", name="wh", role="support").status_code == 303
        assert member.get("/admin/returns", follow_redirects=False).status_code == 200
    assert _actions(database).count("staff.role_changed") == 1


def test_reset_password_shows_a_temporary_one_once_and_ends_sessions(client, settings, database):
    staff_login(client, database, Role.ADMIN, "boss")
    with TestClient(create_app(settings, database)) as member:
        staff_login(member, database, Role.SUPPORT, "cs")
        answer = _post(client, "/admin/staff/password", name="cs")
        assert answer.status_code == 200
        temporary = re.search(
            r'id="temporary-password">[^<]*<code>([a-z0-9]{12})</code>', answer.text
        )
        assert temporary
        assert member.get("/admin/orders", follow_redirects=False).status_code == 303
        member.cookies.clear()
        login = member.post(
            "/admin/login",
            data={
                "name": "cs",
                "password": temporary.group(1),
                "csrf_token": csrf_token(member, "/admin/login"),
            },
            follow_redirects=False,
        )
        assert login.headers["location"] == "/admin/orders"
        # The admin knows that password: the member must replace it before anything else.
        answer = member.get("/admin/orders", follow_redirects=False)
        assert answer.headers["location"] == "/admin/password"
        temp = temporary.group(1)
        assert (
            _post(
                member, "/admin/password", current="wrong-one", password=PASSWORD, again=PASSWORD
            ).status_code
            == 422
        )
        assert (
            _post(
                member, "/admin/password", current=temp, password=PASSWORD, again="something-else"
            ).status_code
            == 422
        )
        assert (
            _post(member, "/admin/password", current=temp, password=temp, again=temp).status_code
            == 422
        )
        assert _user(database, "cs").must_change_password is True
        done = _post(member, "/admin/password", current=temp, password=PASSWORD, again=PASSWORD)
        assert done.headers["location"] == "/admin/orders"
        assert member.get("/admin/orders", follow_redirects=False).status_code == 200
        assert _user(database, "cs").must_change_password is False
    assert "staff.own_password_changed" in _actions(database)
    assert "temporary-password" not in client.get("/admin/staff").text
    assert _post(client, "/admin/staff/password", name="cs", password="short").status_code == 422


def test_unknown_garbled_and_csrf_less_posts_change_nothing(client, database):
    staff_login(client, database, Role.ADMIN, "boss")
    assert _post(client, "/admin/staff/disable", name="nobody").status_code == 404
    assert _post(client, "/admin/staff/disable", name="").status_code == 400
    assert _post(client, "/admin/staff/role", name="boss", role="king").status_code == 400
    no_csrf = client.post("/admin/staff/disable", data={"name": "boss"}, follow_redirects=False)
    assert no_csrf.status_code == 403
    assert _user(database, "boss").active is True


def test_the_staff_page_is_three_queries_however_many_members(client, database):
    staff_login(client, database, Role.ADMIN, "boss")
    for number in range(6):
        add_staff(database, f"cs{number}", Role.SUPPORT, PASSWORD, ADMIN)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        assert client.get("/admin/staff").status_code == 200
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # The session with its member; the list with last logins; the warehouses to tie logins to.
    assert len(selects) == 3, selects
