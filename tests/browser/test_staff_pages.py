"""Every staff page of a fresh demo, browsed in Chromium as each role: no page answers 5xx."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Response
from sqlalchemy import select

from backend.demo import seed_operations, seed_orders
from backend.orders.intake import IntakeRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import HoldReason, Order
from backend.orders.queries import SEARCH_LIMIT
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from tests.portal.helpers import ADMIN

pytestmark = pytest.mark.browser

PASSWORD = "browse-every-page-2026"


@pytest.fixture
def demo(database) -> dict[int, tuple[OrderStatus, HoldReason | None]]:
    seed_orders(database, rules=IntakeRules())
    seed_operations(database, IntakeRules())
    for role in Role:
        add_staff(database, f"{role}-browser", role, PASSWORD, ADMIN)
    with database.read() as session:
        rows = session.execute(select(Order.id, Order.status, Order.hold_reason)).all()
    return {order_id: (status, hold) for order_id, status, hold in rows}


def one_order_per_state_and_hold(demo) -> set[int]:
    first: dict[object, int] = {}
    for order_id, (status, hold) in sorted(demo.items()):
        first.setdefault(hold or status, order_id)
    return set(first.values())


def log_in(page: Page, role: Role) -> None:
    page.goto("/admin/login")
    page.fill("#name", f"{role}-browser")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def links(page: Page, selector: str) -> list[str]:
    hrefs = page.eval_on_selector_all(selector, "nodes => nodes.map(n => n.getAttribute('href'))")
    return sorted({href for href in hrefs if href and href.startswith("/")})


@pytest.mark.parametrize("role", list(Role))
def test_each_role_browses_every_staff_page_and_every_order_without_a_server_error(
    page, demo, role
):
    failures: list[str] = []

    def watch(response: Response) -> None:
        if response.status >= 500:
            failures.append(f"{response.status} {response.url}")

    page.on("response", watch)
    log_in(page, role)
    nav = links(page, "nav.bar-nav a")
    assert len(nav) >= 5
    visited = 0
    for href in nav:
        page.goto(href)
        visited += 1
    page.goto("/admin/orders")
    listed = links(page, "#order_results a[href^='/admin/orders/']")
    # The list shows the newest SEARCH_LIMIT orders; the rest are opened by id below.
    assert len(listed) == min(len(demo), SEARCH_LIMIT)
    # The admin opens every order; the other roles one order of every state and every hold.
    chosen = set(demo) if role == Role.ADMIN else one_order_per_state_and_hold(demo)
    assert len(chosen) >= len(OrderStatus)
    for order_id in sorted(chosen):
        answer = page.goto(f"/admin/orders/{order_id}")
        assert answer is not None and answer.status == 200, order_id
        visited += 1
    assert failures == [] and visited >= len(nav) + len(chosen)
