"""A rule saved in one process decides the next return in another; the old one keeps its reasons.

The acceptance of "Rules in the admin": the refund auto-approval limit goes from ¥200 to
¥100 while a `portal serve` process (its own interpreter, the same database) is running.
Its next return of ¥128 goes to a person, citing ¥100 and version 2; the return it approved
before still says "at most ¥200". The served process re-reads the rules every 2 s here;
the default is 30 s (tested below), inside the minute the issue asks for.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import httpx

from backend.actors import Actor, ActorKind
from backend.orders.access import issue_short_link
from backend.orders.lifecycle import OrderStatus
from backend.rulebook.fields import seed_values
from backend.rulebook.service import save_version
from backend.staff.models import Role
from portal.settings import Settings, build_rules
from tests.factories import SYSTEM, make_order
from tests.process.served import portal_serve

SUPERVISOR = Actor(ActorKind.STAFF, "周主管", channel="admin", role=Role.SUPERVISOR)
REFRESH_SECONDS = 2


def file_return(portal_url: str, database, order) -> str:
    """As the customer: the SMS link, the return form, one unit with no reason needed."""
    code = issue_short_link(database, order.id, SYSTEM, timedelta(days=1))
    with httpx.Client(base_url=portal_url, follow_redirects=True, timeout=30) as browser:
        assert browser.get(f"/t/{code}").status_code == 200
        form = browser.get(f"/orders/{order.public_no}/return").text
        line = re.search(r'name="qty_(\d+)"', form).group(1)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        filed = browser.post(
            f"/orders/{order.public_no}/return",
            data={
                f"qty_{line}": "1",
                "refund_type": "return_and_refund",
                "reason": "no_reason_7_days",
                "description": "不想要了",
                "csrf_token": token,
            },
            headers={"Origin": portal_url},
        )
        assert filed.status_code == 200, filed.text[-2000:]
        return filed.text


def test_the_next_return_in_another_process_follows_the_new_limit(sqlite_file, tmp_path: Path):
    path, database = sqlite_file
    _follows_the_new_limit(f"sqlite:///{path}", database, tmp_path)


def test_the_same_on_postgresql(postgres_database, tmp_path: Path):
    _follows_the_new_limit(postgres_database.url, postgres_database, tmp_path)


def _follows_the_new_limit(url: str, database, tmp_path: Path) -> None:
    before = make_order(database, status=OrderStatus.DELIVERED, phone="13800138001")
    after = make_order(database, status=OrderStatus.DELIVERED, phone="13800138002")
    seed = build_rules(Settings())
    with portal_serve(
        url,
        tmp_path,
        "--no-worker",
        environment={"PORTAL_RULES_REFRESH_SECONDS": str(REFRESH_SECONDS)},
    ) as portal:
        first = file_return(portal.url, database, before)
        assert "已自动通过" in first and "金额不超过200元" in first

        values = seed_values(seed) | {"refunds.max_auto_amount_fen": "100"}
        assert save_version(database, values, 0, "大促前收紧", SUPERVISOR, seed) == 2
        time.sleep(REFRESH_SECONDS + 1)

        second = file_return(portal.url, database, after)
        assert "金额超过100元" in second and "已自动通过" not in second
        assert "第 2 版" in second
        # The earlier decision, read again in the other process, keeps its own reasons.
        code = issue_short_link(database, before.id, SYSTEM, timedelta(days=1))
        with httpx.Client(base_url=portal.url, follow_redirects=True, timeout=30) as browser:
            browser.get(f"/t/{code}")
            order_page = browser.get(f"/orders/{before.public_no}").text
            progress = re.search(r'href="(/orders/\d+/returns/\d+)"', order_page).group(1)
            again = browser.get(progress).text
        assert "金额不超过200元" in again and "金额超过100元" not in again


def test_by_default_every_process_reads_the_rules_within_the_minute():
    assert Settings().rules_refresh_seconds <= 60
