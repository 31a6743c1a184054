"""The tracking page's cache in a process never outlives what the page shows: a new rule too."""

from __future__ import annotations

import re
from dataclasses import replace

from starlette.testclient import TestClient

from backend.actors import Actor, ActorKind
from backend.orders.lifecycle import OrderStatus
from backend.rulebook.fields import seed_values
from backend.rulebook.service import save_version
from backend.staff.models import Role
from portal.app import create_app
from portal.settings import build_rules
from tests.factories import make_order
from tests.portal.helpers import open_short_link

SUPERVISOR = Actor(ActorKind.STAFF, "周主管", channel="admin", role=Role.SUPERVISOR)


def last_return_day(page: str) -> str:
    match = re.search(r'class="return-window">.*?(\d{4}-\d\d-\d\d)', page, re.S)
    assert match, "no return window on the page"
    return match.group(1)


def test_a_rule_saved_elsewhere_is_on_the_next_tracking_page_though_the_order_is_unchanged(
    settings, database
):
    # Re-read at every request here, so what is left to test is the cache.
    settings = replace(settings, rules_refresh_seconds=0)
    order = make_order(database, status=OrderStatus.DELIVERED)
    with TestClient(create_app(settings, database)) as client:
        open_short_link(client, database, order.id)
        before = client.get(f"/orders/{order.public_no}").text
        assert client.get(f"/orders/{order.public_no}").text == before  # cached
        seed = build_rules(settings)
        values = seed_values(seed) | {"refunds.return_window_days": "14"}
        assert save_version(database, values, 0, "延长退货期", SUPERVISOR, seed) == 2
        after = client.get(f"/orders/{order.public_no}").text
    assert last_return_day(before) != last_return_day(after)
