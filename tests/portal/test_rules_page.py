"""The rules page through HTTP: a save is a version at once in this process, garbage is refused."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from backend.rulebook.fields import seed_values
from backend.rulebook.models import RuleVersion
from backend.staff.models import Role
from tests.portal.helpers import csrf_token, staff_login


def _form(client) -> dict[str, str]:
    page = client.get("/admin/rules").text
    values = dict(re.findall(r'name="([a-z_]+\.[a-z_]+)" value="([^"]*)"', page))
    based_on = re.search(r'name="based_on" value="(\d+)"', page).group(1)
    return values | {"based_on": based_on, "csrf_token": csrf_token(client, "/admin/rules")}


def _versions(database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count(RuleVersion.id)))


def test_a_supervisor_lowers_the_refund_limit_and_the_next_decision_uses_it(
    client, database, settings
):
    staff_login(client, database, Role.SUPERVISOR)
    form = _form(client)
    assert form["refunds.max_auto_amount_fen"] == "200"
    assert set(form) - {"based_on", "csrf_token"} == set(seed_values(settings.rules))
    saved = client.post(
        "/admin/rules",
        data=form | {"refunds.max_auto_amount_fen": "100", "note": "大促前收紧"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("saved=2")
    page = client.get(saved.headers["location"]).text
    assert "已保存为第 2 版" in page and "大促前收紧" in page
    assert 'value="100"' in page
    # This process at once (the page dropped its cached rules after the save).
    assert client.app.state.rules.current(database).refunds.max_auto_amount_fen == 10_000
    assert client.app.state.rules.current(database).refunds.rules_version == 2


def test_invalid_values_and_a_stale_form_are_refused_and_nothing_is_saved(client, database):
    staff_login(client, database, Role.ADMIN)
    form = _form(client)
    bad = client.post(
        "/admin/rules",
        data=form | {"refunds.max_auto_amount_fen": "两百", "refunds.return_window_days": "99"},
    )
    assert bad.status_code == 422
    assert "请填写金额（元）" in bad.text and "超出此规则允许的范围（1 至 30）" in bad.text
    assert 'value="两百"' in bad.text  # what was typed stays in the form
    assert _versions(database) == 0
    first = client.post(
        "/admin/rules", data=form | {"intake.high_value_fen": "3000"}, follow_redirects=False
    )
    assert first.status_code == 303
    stale = client.post("/admin/rules", data=form | {"intake.high_value_fen": "4000"})
    assert stale.status_code == 409 and "有人保存了第 2 版" in stale.text
    assert _versions(database) == 2  # the environment's version 1, and the one save
    garbage = client.post("/admin/rules", data={"csrf_token": form["csrf_token"], "based_on": "x"})
    assert garbage.status_code == 422
    assert _versions(database) == 2
