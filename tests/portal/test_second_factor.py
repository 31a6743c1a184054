"""TOTP second factor over HTTP: enrolment, login, wrong and reused codes, recovery codes."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.staff import second_factor
from backend.staff.accounts import add_staff
from backend.staff.models import RecoveryCode, Role, StaffUser
from portal.app import create_app
from tests.portal.helpers import ADMIN, csrf_token

PASSWORD = "correct-horse-battery"
T0 = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def strict_client(settings, database):
    with TestClient(
        create_app(replace(settings, staff_second_factor_required=True), database)
    ) as c:
        yield c


@pytest.fixture
def clock(monkeypatch):
    """The second factor's clock, moved by hand: codes are computed for fixed instants."""
    now = {"at": T0}
    monkeypatch.setattr(second_factor, "utcnow", lambda: now["at"])
    return now


def _password(client, name):
    return client.post(
        "/admin/login",
        data={"name": name, "password": PASSWORD, "csrf_token": csrf_token(client, "/admin/login")},
        follow_redirects=False,
    )


def _code(client, code):
    return client.post(
        "/admin/login/code",
        data={"code": code, "csrf_token": csrf_token(client, "/admin/login")},
        follow_redirects=False,
    )


def _enrol(client, database, name, clock):
    page = client.get("/admin/second-factor")
    assert page.status_code == 200
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    assert "<svg" in page.text
    with database.read() as session:
        assert session.scalar(select(StaffUser.totp_secret).where(StaffUser.name == name)) == secret
    answer = client.post(
        "/admin/second-factor",
        data={
            "code": pyotp.TOTP(secret).at(clock["at"]),
            "csrf_token": csrf_token(client, "/admin/login"),
        },
    )
    assert answer.status_code == 200
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", answer.text)
    assert len(codes) == 10
    return secret, codes


def _code_with(client, token, code):
    return client.post(
        "/admin/login/code", data={"code": code, "csrf_token": token}, follow_redirects=False
    )


def test_an_admin_without_a_factor_reaches_only_enrolment_then_logs_in_with_codes(
    strict_client, database, clock
):
    add_staff(database, "boss", Role.ADMIN, PASSWORD, ADMIN)
    assert _password(strict_client, "boss").headers["location"] == "/admin/orders"
    for path in ("/admin/orders", "/admin/staff", "/admin/operations"):
        answer = strict_client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/admin/second-factor")

    secret, codes = _enrol(strict_client, database, "boss", clock)
    assert strict_client.get("/admin/staff", follow_redirects=False).status_code == 200

    # Log in again: the password alone opens no session, the code does.
    strict_client.cookies.clear()
    clock["at"] = T0 + timedelta(minutes=5)
    answer = _password(strict_client, "boss")
    assert answer.headers["location"] == "/admin/login/code"
    assert "portal_staff" not in strict_client.cookies
    assert strict_client.get("/admin/orders", follow_redirects=False).headers["location"] == (
        "/admin/login"
    )
    assert _code(strict_client, "000000").status_code == 422
    good = pyotp.TOTP(secret).at(clock["at"])
    assert _code(strict_client, good).headers["location"] == "/admin/orders"
    assert strict_client.get("/admin/orders").status_code == 200

    # The same code again, in the same 30 s: refused (RFC 6238 section 5.2), though right.
    strict_client.cookies.clear()
    _password(strict_client, "boss")
    assert _code(strict_client, good).status_code == 422
    # A recovery code works once.
    assert _code(strict_client, codes[0]).headers["location"] == "/admin/orders"
    strict_client.cookies.clear()
    _password(strict_client, "boss")
    assert _code(strict_client, codes[0]).status_code == 422
    # The next step's code is fine.
    clock["at"] += timedelta(seconds=30)
    assert _code(strict_client, pyotp.TOTP(secret).at(clock["at"])).status_code == 303

    with database.read() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("staff.%"))
        ).all()
        used = session.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).all()
    assert actions.count("staff.second_factor_enrolled") == 1
    assert actions.count("staff.second_factor_wrong_code") == 3
    assert actions.count("staff.recovery_code_used") == 1
    assert len(used) == 1


def test_wrong_codes_count_towards_the_lockout(strict_client, database, clock):
    add_staff(database, "fin", Role.FINANCE, PASSWORD, ADMIN)
    _password(strict_client, "fin")
    secret, _ = _enrol(strict_client, database, "fin", clock)
    strict_client.cookies.clear()
    _password(strict_client, "fin")
    for _ in range(10):
        assert _code(strict_client, "123456").status_code in (422, 429)
    clock["at"] += timedelta(minutes=1)
    assert _code(strict_client, pyotp.TOTP(secret).at(clock["at"])).status_code == 429


def test_the_code_step_without_a_password_sends_to_the_login(strict_client):
    answer = strict_client.get("/admin/login/code", follow_redirects=False)
    assert answer.headers["location"] == "/admin/login"
    token = csrf_token(strict_client, "/admin/login")
    strict_client.cookies.set("portal_staff_pending", "forged")
    answer = _code_with(strict_client, token, "123456")
    assert answer.headers["location"] == "/admin/login"


def test_support_may_log_in_without_a_factor(strict_client, database):
    add_staff(database, "cs", Role.SUPPORT, PASSWORD, ADMIN)
    _password(strict_client, "cs")
    assert strict_client.get("/admin/orders", follow_redirects=False).status_code == 200


def test_an_admin_reset_of_the_factor_ends_sessions_and_sends_back_to_enrolment(
    strict_client, database, clock
):
    add_staff(database, "sup", Role.SUPERVISOR, PASSWORD, ADMIN)
    _password(strict_client, "sup")
    _enrol(strict_client, database, "sup", clock)
    assert strict_client.get("/admin/orders", follow_redirects=False).status_code == 200
    assert second_factor.reset_second_factor(database, "sup", ADMIN) is True
    assert strict_client.get("/admin/orders", follow_redirects=False).headers["location"] == (
        "/admin/login"
    )
    strict_client.cookies.clear()
    assert _password(strict_client, "sup").headers["location"] == "/admin/orders"
    answer = strict_client.get("/admin/orders", follow_redirects=False)
    assert answer.headers["location"] == "/admin/second-factor"
    with database.read() as session:
        assert session.scalars(select(RecoveryCode)).all() == []


def test_the_operator_resets_a_lost_factor_from_the_command_line(strict_client, database, clock):
    from tests.portal.test_staff_sessions import run_portal

    add_staff(database, "boss", Role.ADMIN, PASSWORD, ADMIN)
    _password(strict_client, "boss")
    _enrol(strict_client, database, "boss", clock)
    done = run_portal(database, "staff", "reset-second-factor", "boss")
    assert done.returncode == 0, done.stderr
    assert "reset" in done.stdout
    with database.read() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.name == "boss")).one()
        assert (user.totp_secret, user.totp_enabled_at) == (None, None)
    assert run_portal(database, "staff", "disable", "boss").returncode == 1  # the last admin
