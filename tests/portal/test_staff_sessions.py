"""Staff sessions live on the server: logout, disabling and a new password end them."""

import getpass
import hashlib
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event, select, update
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.staff.accounts import add_staff
from backend.staff.models import Role, StaffSession, StaffUser
from portal.app import create_app
from portal.sessions import STAFF_COOKIE
from tests.conftest import TEST_KEYS
from tests.portal.helpers import ADMIN, csrf_token

PASSWORD = "correct-horse-battery"
PORTAL = Path(sys.executable).parent / "portal"


def log_in(browser: TestClient, name: str, password: str = PASSWORD, agent: str = "Phone/1.0"):
    token = csrf_token(browser, "/admin/login")
    return browser.post(
        "/admin/login",
        data={"name": name, "password": password, "csrf_token": token},
        headers={"User-Agent": agent},
        follow_redirects=False,
    )


def signed_in(browser: TestClient, name: str) -> str:
    assert log_in(browser, name).status_code == 303
    return browser.cookies[STAFF_COOKIE]


def answer(app, cookie: str, path: str = "/admin/orders"):
    """What a second browser replaying `cookie` gets."""
    replaying = TestClient(app)
    replaying.cookies.set(STAFF_COOKIE, cookie)
    response = replaying.get(path, follow_redirects=False)
    return response.status_code, response.headers.get("location")


LOGIN = (303, "/admin/login")
OK = (200, None)


def run_portal(database, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": database.url,
        "PORTAL_SECRET_KEYS": ",".join(TEST_KEYS),
    }
    return subprocess.run(
        [str(PORTAL), *args], input=stdin, env=env, capture_output=True, text=True, timeout=120
    )


def staff_events(database, action: str) -> list[tuple[str, str, str | None, dict | None]]:
    with database.read() as session:
        rows = session.execute(
            select(
                AuditEvent.actor_id,
                AuditEvent.subject_id,
                AuditEvent.actor_channel,
                AuditEvent.after,
            )
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        ).all()
    return [tuple(row) for row in rows]


def sessions_of(database, staff_id: int) -> list[tuple]:
    with database.read() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(StaffSession.ended_at.is_not(None), StaffSession.ended_because)
                .where(StaffSession.staff_id == staff_id)
                .order_by(StaffSession.id)
            )
        ]


def test_a_cookie_replayed_after_logout_is_sent_to_the_login_page(client, database):
    staff_id = add_staff(database, "小李", Role.SUPPORT, PASSWORD, ADMIN)
    cookie = signed_in(client, "小李")
    assert answer(client.app, cookie) == OK
    token = csrf_token(client, "/admin/orders")
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 200
    assert answer(client.app, cookie) == LOGIN
    assert answer(client.app, cookie, "/admin/exceptions") == LOGIN
    assert sessions_of(database, staff_id) == [(True, "logged_out")]
    assert [(e[0], e[1]) for e in staff_events(database, "staff.logged_out")] == [
        ("小李", str(staff_id))
    ]


def test_disabling_an_account_with_the_cli_ends_its_sessions_and_says_who(client, database):
    staff_id = add_staff(database, "小王", Role.SUPPORT, PASSWORD, ADMIN)
    desk, phone = signed_in(client, "小王"), signed_in(TestClient(client.app), "小王")
    assert answer(client.app, desk) == answer(client.app, phone) == OK

    done = run_portal(database, "staff", "disable", "小王")

    assert done.returncode == 0, done.stderr
    assert answer(client.app, desk) == answer(client.app, phone) == LOGIN
    assert log_in(TestClient(client.app), "小王").status_code == 422
    with database.read() as session:
        assert session.scalar(select(StaffUser.active).where(StaffUser.id == staff_id)) is False
    assert sessions_of(database, staff_id) == [(True, "account_disabled")] * 2
    operator = f"cli:{getpass.getuser()}"
    assert staff_events(database, "staff.disabled") == [
        (operator, str(staff_id), "cli", {"active": False, "sessions_ended": 2})
    ]

    assert run_portal(database, "staff", "enable", "小王").returncode == 0
    assert answer(client.app, desk) == LOGIN
    assert answer(client.app, signed_in(TestClient(client.app), "小王")) == OK
    assert [e[0] for e in staff_events(database, "staff.enabled")] == [operator]


def test_a_new_password_from_the_cli_ends_every_session_opened_with_the_old_one(client, database):
    staff_id = add_staff(database, "老张", Role.ADMIN, PASSWORD, ADMIN)
    cookie = signed_in(client, "老张")

    done = run_portal(database, "staff", "password", "老张", stdin="a-brand-new-secret\n")

    assert done.returncode == 0, done.stderr
    assert answer(client.app, cookie) == LOGIN
    assert log_in(TestClient(client.app), "老张").status_code == 422
    assert log_in(TestClient(client.app), "老张", "a-brand-new-secret").status_code == 303
    assert sessions_of(database, staff_id)[0] == (True, "password_changed")
    events = staff_events(database, "staff.password_changed")
    assert events == [(f"cli:{getpass.getuser()}", str(staff_id), "cli", {"sessions_ended": 1})]
    assert "a-brand-new-secret" not in done.stdout + done.stderr


def test_a_password_too_short_changes_nothing(client, database):
    add_staff(database, "老张", Role.ADMIN, PASSWORD, ADMIN)
    cookie = signed_in(client, "老张")
    done = run_portal(database, "staff", "password", "老张", stdin="short\n")
    assert done.returncode == 1
    assert answer(client.app, cookie) == OK
    assert staff_events(database, "staff.password_changed") == []


def test_an_expired_staff_session_is_sent_to_the_login_page(client, database):
    staff_id = add_staff(database, "小李", Role.SUPPORT, PASSWORD, ADMIN)
    cookie = signed_in(client, "小李")
    with database.write() as session:
        session.execute(
            update(StaffSession)
            .where(StaffSession.staff_id == staff_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert answer(client.app, cookie) == LOGIN


def test_the_cookie_holds_a_random_session_id_of_which_only_a_hash_is_stored(client, database):
    staff_id = add_staff(database, "小李", Role.SUPPORT, PASSWORD, ADMIN)
    cookie = signed_in(client, "小李")
    token = client.app.state.sessions.staff_cookie.loads(cookie)
    assert isinstance(token, str) and len(token) >= 40
    with database.read() as session:
        stored = session.execute(
            select(StaffSession.token_hash, StaffSession.ip, StaffSession.user_agent).where(
                StaffSession.staff_id == staff_id
            )
        ).one()
    assert tuple(stored) == (hashlib.sha256(token.encode()).hexdigest(), "testclient", "Phone/1.0")


def test_a_staff_page_loads_session_and_staff_member_in_one_query(client, database):
    add_staff(database, "小李", Role.SUPPORT, PASSWORD, ADMIN)
    signed_in(client, "小李")
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        assert client.get("/admin/orders").status_code == 200
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    about_staff = [s for s in statements if "staff_" in s]
    assert len(about_staff) == 1, about_staff
    assert "staff_sessions" in about_staff[0] and "staff_users" in about_staff[0]


def test_last_seen_is_kept_without_a_write_on_every_page(client, database):
    staff_id = add_staff(database, "小李", Role.SUPPORT, PASSWORD, ADMIN)
    signed_in(client, "小李")
    long_ago = utcnow() - timedelta(hours=1)
    with database.write() as session:
        session.execute(
            update(StaffSession)
            .where(StaffSession.staff_id == staff_id)
            .values(last_seen_at=long_ago)
        )
    client.get("/admin/orders")
    with database.read() as session:
        seen = session.scalar(
            select(StaffSession.last_seen_at).where(StaffSession.staff_id == staff_id)
        )
    assert seen > utcnow() - timedelta(minutes=1)
    statements = []

    def seen_statement(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen_statement)
    try:
        assert client.get("/admin/orders").status_code == 200
    finally:
        event.remove(database.engine, "before_cursor_execute", seen_statement)
    assert not [s for s in statements if s.startswith("UPDATE staff_sessions")], statements


def test_a_restart_keeps_live_staff_sessions_live_and_ended_ones_ended(settings, database):
    add_staff(database, "小李", Role.SUPPORT, PASSWORD, ADMIN)
    with TestClient(create_app(settings, database)) as first:
        live = signed_in(first, "小李")
        ended_browser = TestClient(first.app)
        ended = signed_in(ended_browser, "小李")
        token = csrf_token(ended_browser, "/admin/orders")
        ended_browser.post("/admin/logout", data={"csrf_token": token})
    with TestClient(create_app(settings, database)) as second:
        assert answer(second.app, live) == OK
        assert answer(second.app, ended) == LOGIN
