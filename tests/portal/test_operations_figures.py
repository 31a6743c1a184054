"""The figures on the operations page: a range, its comparison, a chart, and bad ranges."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from backend.clock import utcnow
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import staff_login


def test_the_page_shows_this_week_against_last_week_with_an_svg_chart(client, database):
    now = utcnow()
    for paid_hours_ago, took in ((30, 2), (50, 30)):
        order = make_order(database, status=OrderStatus.SHIPPED)
        paid = now - timedelta(hours=paid_hours_ago)
        with database.write() as session:
            session.execute(
                update(Order)
                .where(Order.id == order.id)
                .values(paid_at=paid, shipped_at=paid + timedelta(hours=took))
            )
    staff_login(client, database, Role.SUPERVISOR)
    page = client.get("/admin/operations")
    assert page.status_code == 200
    section = page.text[page.text.index('id="figures"') :]
    assert "经营指标" in section and "发货准确率" in section
    # One of the two shipped within its 24 hours: 50.0% this range.
    assert "50.0%" in section
    svg = re.search(r"<svg[^>]*role=\"img\".*?</svg>", section, re.S)
    assert svg and "<title" in svg.group() and "50%" in svg.group()


def test_a_range_far_in_the_past_is_empty_not_broken(client, database):
    staff_login(client, database, Role.SUPERVISOR)
    page = client.get("/admin/operations?from=2020-01-01&to=2020-01-31")
    assert page.status_code == 200
    assert "2020-01-01 至 2020-01-31，对比 2019-12-01 至 2019-12-31" in page.text


def test_bad_ranges_are_a_message_next_to_the_form(client, database):
    staff_login(client, database, Role.SUPERVISOR)
    for query, message in (
        ("from=yesterday", "日期格式为 YYYY-MM-DD。"),
        ("from=2026-12-07&to=2026-12-01", "结束日期早于开始日期。"),
        ("from=2020-01-01&to=2026-01-01", "时间范围最长一年。"),
        ("from=2026-02-30", "日期格式为 YYYY-MM-DD。"),
    ):
        page = client.get(f"/admin/operations?{query}")
        assert page.status_code == 200, query
        assert message in page.text, query


def test_the_late_map_has_every_province_and_colours_the_late_ones():
    from backend.figures import ProvinceLateness
    from portal.charts import LATE_STEPS, NO_DATA, PROVINCE_TILES, late_map

    svg = str(late_map([ProvinceLateness("浙江省", 4, 2), ProvinceLateness("北京市", 10, 0)]))
    assert len(PROVINCE_TILES) == 34 and svg.count("<rect") == 34 + len(LATE_STEPS)
    assert "<title>浙江 2/4 (50%)</title>" in svg and "<title>台湾 —</title>" in svg
    zhejiang = svg[svg.index("<title>浙江") :]
    assert f'fill="{LATE_STEPS[-1][1]}"' in zhejiang[: zhejiang.index("</g>")]
    beijing = svg[svg.index("<title>北京") :]
    assert f'fill="{LATE_STEPS[0][1]}"' in beijing[: beijing.index("</g>")]
    assert svg.count(f'fill="{NO_DATA}"') == 32


# What GET /admin/operations may cost: the staff session (1), the dashboard (4), the
# queue (2) and who is active in each team, for substitutes (1), quiet channels (1), the
# support queue (1), the exceptions count inside the dashboard (2), and the figures: 5 per
# range x 2, the province map 1, returns by SKU 2, pairs 1.
# 26 for the dashboard and figures, 4 for the self-service funnel (two ranges), and 1 for the
# rules in force, read again at most once per PORTAL_RULES_REFRESH_SECONDS; finance: + profit.
OPERATIONS_QUERY_BUDGET = {Role.SUPERVISOR: 26 + 4 + 1, Role.FINANCE: 26 + 4 + 1 + 4}


@pytest.mark.parametrize("role", list(OPERATIONS_QUERY_BUDGET))
def test_the_operations_page_stays_within_its_query_budget(client, database, role):
    from sqlalchemy import event

    from tests.factories import make_order

    for _ in range(3):
        make_order(database, status=OrderStatus.SHIPPED)
    staff_login(client, database, role)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "PRAGMA", "SET", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        page = client.get("/admin/operations")
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert page.status_code == 200
    assert len(statements) <= OPERATIONS_QUERY_BUDGET[role], "\n".join(statements)


def test_profit_shows_to_finance_and_never_to_support(client, database):
    from backend.orders.models import Sku

    order = make_order(database, status=OrderStatus.SHIPPED)
    with database.write() as session:
        if session.query(Sku).filter_by(code="TEA-1").one_or_none() is None:
            session.add(Sku(code="TEA-1", name="西湖龙井 250g"))
        session.flush()
        session.execute(update(Sku).values(cost_fen=1_000_000))  # sold far under cost
        session.execute(update(Order).where(Order.id == order.id).values(paid_at=utcnow()))
    staff_login(client, database, Role.SUPPORT)
    assert "亏损订单" not in client.get("/admin/operations").text
    client.cookies.clear()
    staff_login(client, database, Role.FINANCE)
    page = client.get("/admin/operations").text
    assert "利润热力图" in page and 'aria-labelledby="profit-heat-title"' in page
    losses = page[page.index("亏损订单") :]
    assert order.public_no in losses
