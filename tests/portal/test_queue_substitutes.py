"""A late queue item of a team with nobody active goes to the substitute, on the page too."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from backend.clock import utcnow
from backend.operations import list_queue, substitute_for
from backend.orders.holds import Team
from backend.orders.models import HoldReason, Order
from backend.staff.accounts import add_staff, disable_staff, enable_staff
from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import ADMIN, staff_login

PASSWORD = "correct-horse-battery"


def _held(database, since: timedelta) -> str:
    order = make_order(database)
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(hold_reason=HoldReason.DUPLICATE_SUSPECT, created_at=utcnow() - since)
        )
    return order.public_no


def _section(html: str, anchor: str) -> str:
    match = re.search(rf'<section class="card[^"]*" id="{anchor}">(.*?)</section>', html, re.S)
    return match.group(1) if match else ""


def test_substitute_table():
    everyone = frozenset(Role)
    assert substitute_for(Team.SUPPORT, everyone) is None
    assert substitute_for(Team.SUPPORT, everyone - {Role.SUPPORT}) == Role.SUPERVISOR
    assert substitute_for(Team.SUPPORT, frozenset({Role.ADMIN})) == Role.ADMIN
    assert substitute_for(Team.OPERATIONS, everyone - {Role.SUPERVISOR}) == Role.ADMIN
    assert substitute_for(Team.FINANCE, frozenset()) == Role.ADMIN


def test_with_every_support_member_gone_a_late_hold_shows_under_the_supervisor(client, database):
    staff_login(client, database, Role.SUPERVISOR, "lead")
    add_staff(database, "cs1", Role.SUPPORT, PASSWORD, ADMIN)
    add_staff(database, "cs2", Role.SUPPORT, PASSWORD, ADMIN)
    late = _held(database, timedelta(days=2))
    fresh = _held(database, timedelta(minutes=5))

    page = client.get("/admin/operations").text
    assert 'id="substitute-supervisor"' not in page

    disable_staff(database, "cs1", ADMIN)
    disable_staff(database, "cs2", ADMIN)
    page = client.get("/admin/operations").text
    routed = _section(page, "substitute-supervisor")
    assert late in routed and fresh not in routed  # only what is past its SLA moves
    assert "客服组无人在岗，已转给主管" in routed
    assert {i.public_no: i.substitute for i in list_queue(database)}[late] == Role.SUPERVISOR

    enable_staff(database, "cs1", ADMIN)
    page = client.get("/admin/operations").text
    assert 'id="substitute-supervisor"' not in page
    assert late in page  # back in the support team's list
