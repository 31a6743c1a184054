"""Staff search pages through its results, newest first, and garbage pages are page one."""

from __future__ import annotations

import re

from backend.orders.queries import SEARCH_LIMIT
from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import staff_login

ORDER_LINK = re.compile(r'href="/admin/orders/(\d+)"')


def test_search_results_come_in_pages(client, database):
    ids = [make_order(database).id for _ in range(SEARCH_LIMIT + 3)]
    staff_login(client, database, Role.SUPPORT)
    first = client.get("/admin/orders?q=龙井")
    assert [int(i) for i in ORDER_LINK.findall(first.text)] == ids[::-1][:SEARCH_LIMIT]
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = client.get("/admin/orders?q=龙井&status=&page=2")
    assert [int(i) for i in ORDER_LINK.findall(second.text)] == ids[::-1][SEARCH_LIMIT:]
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    for garbage in ("0", "-1", "abc", "99999999", "2.5"):
        page = client.get(f"/admin/orders?q=龙井&page={garbage}")
        assert page.status_code == 200
    beyond = client.get("/admin/orders?q=龙井&page=19")
    assert ORDER_LINK.findall(beyond.text) == [] and 'rel="prev"' in beyond.text
