"""axe-core on every customer page and every staff page of a seeded order, on a phone.

axe.min.js comes from the axe-playwright-python package (a test dependency) and is run
through Playwright's evaluate, which the pages' CSP does not apply to: nothing is loaded
from a CDN and the pages need no exception for the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.demo import seed_operations
from backend.logistics.warehouse import scan_parcel
from backend.orders.address_changes import confirm_address_change, start_address_change
from backend.orders.address_policy import AddressRules
from backend.orders.intake import IntakeRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, OrderLine
from backend.orders.service import NewAddress, NewLine
from backend.refunds.rules import RefundRules, RefundType
from backend.refunds.service import file_return
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from tests.browser.parcels import record_events, route_to_hangzhou, sms_link
from tests.browser.test_address_change import texted_code
from tests.factories import SYSTEM, THREE_LINES, make_order, ship_in_parcels

pytestmark = pytest.mark.browser

# axe's own impact scale; moderate and minor findings are advice, these block a user.
BLOCKING = frozenset({"serious", "critical"})
STAFF_PASSWORD = "correct-horse-battery"
NEW_ADDRESS = "李四 13912345678 上海市浦东新区张杨路500号"


@dataclass(frozen=True)
class Seeded:
    shipped: Any
    editable: Any
    delivered: Any
    return_id: int
    held: tuple[int, ...]
    in_parcels: Any  # two parcels on their way, one item still waiting


@pytest.fixture
def seeded(database: Database) -> Seeded:
    """One order in each state a customer page needs, made through the services."""
    shipped = make_order(database, status=OrderStatus.SHIPPED)
    record_events(database, shipped.id, route_to_hangzhou())
    editable = make_order(database, status=OrderStatus.PAID)
    delivered = make_order(
        database,
        status=OrderStatus.DELIVERED,
        lines=[NewLine("TEA-LJ-250", "明前西湖龙井 250g", 2, 26_800)],
    )
    filed = file_return(
        database,
        delivered.id,
        delivered.customer_id,
        {first_line_id(database, delivered.id): 1},
        RefundType.RETURN_AND_REFUND,
        "no_reason_7_days",
        "不想要了",
        [],
        RefundRules(),
        Actor(ActorKind.CUSTOMER, "test", channel="test"),
    )
    late = make_order(database, status=OrderStatus.PAID, placed_at=utcnow() - timedelta(hours=5))
    ask_after_the_window(database, late.id)
    # The demo's held channel orders: duplicate, value, cost, SKU.
    seed_operations(database, IntakeRules())
    with database.read() as session:
        held = tuple(session.scalars(select(Order.id).where(Order.hold_reason.is_not(None))))
    assert len(held) == 4  # duplicate (one of the pair), high value, below cost, unknown SKU
    in_parcels = make_order(database, status=OrderStatus.PAID, lines=THREE_LINES)
    ship_in_parcels(
        database,
        in_parcels.id,
        [
            ("shunfeng", "SF1400000000001", {"TEA-LJ-250": 1}),
            ("jd", "JDVA0012345678", {"CUP-GLASS": 2}),
        ],
    )
    return Seeded(shipped, editable, delivered, filed.return_id, held, in_parcels)


def ask_after_the_window(database: Database, order_id: int) -> None:
    """A change after the self-service window, so the staff queue has a request in it."""
    with database.write() as session:
        session.execute(
            update(Order).where(Order.id == order_id).values(paid_at=utcnow() - timedelta(hours=3))
        )
    customer = Actor(ActorKind.CUSTOMER, "test", channel="test")
    rules = AddressRules()
    address = NewAddress("李四", "13912345678", "上海市", "上海市", "浦东新区", "张杨路500号")
    started = start_address_change(
        database, order_id, address, customer, rules, make_code=lambda: "246810"
    )
    confirm_address_change(database, order_id, started.change_id, "246810", customer, rules)


def first_line_id(database: Database, order_id: int) -> int:
    with database.read() as session:
        line_id = session.scalar(select(OrderLine.id).where(OrderLine.order_id == order_id))
    assert line_id is not None
    return line_id


def blocking_violations(page: Page) -> list[str]:
    """Serious and critical axe findings, and a page without exactly one <h1>."""
    results = Axe().run(page).response
    found = [
        f"{page.url}: {v['id']} ({v['impact']}): "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in results["violations"]
        if v["impact"] in BLOCKING or v["id"] == "page-has-heading-one"
    ]
    headings = page.locator("h1").count()
    if headings != 1:
        found.append(f"{page.url}: {headings} <h1> elements, want one")
    return found


def customer_visits(database: Database, seeded: Seeded) -> Iterator[tuple[str, Callable]]:
    """(name, how to get there) for every customer page, as a customer moves through them."""

    def go(path: str) -> Callable[[Page], object]:
        return lambda page: page.goto(path)

    def code_step(page: Page) -> None:
        page.goto(f"/orders/{seeded.editable.public_no}/address")
        page.get_by_label("粘贴完整地址，自动识别").fill(
            "李四 13912345678 上海市浦东新区张杨路500号"
        )
        page.get_by_role("button", name="识别并填入").click()
        expect(page.get_by_label("收货人")).to_have_value("李四")
        page.get_by_role("button", name="获取验证码").click()
        page.locator("#address_code").wait_for()

    def lost_race(page: Page) -> None:
        code_step(page)
        scan_parcel(database, seeded.editable.public_no, SYSTEM)
        page.get_by_label("验证码").fill(texted_code(database))
        page.get_by_role("button", name="确认").click()
        page.locator("#address_step[role=alert]").wait_for()

    yield "lookup", go("/lookup")
    yield "broken link", go("/t/notACode1")
    yield "not found", go("/orders/00000000000000")
    yield "tracking", go(sms_link(database, seeded.shipped.id))
    yield "tracking with a notice", go(f"/orders/{seeded.shipped.public_no}?notice=address_changed")
    yield "tracking in parcels", go(sms_link(database, seeded.in_parcels.id))
    yield "orders", go("/orders")
    yield "address edit", go(sms_link(database, seeded.editable.id))
    yield "address edit form", go(f"/orders/{seeded.editable.public_no}/address")
    yield "address code", code_step
    yield "address lost race", lost_race
    yield "tracking packed", go(f"/orders/{seeded.editable.public_no}")
    yield "delivered", go(sms_link(database, seeded.delivered.id))
    yield "return form", go(f"/orders/{seeded.delivered.public_no}/return")
    yield (
        "return progress",
        go(f"/orders/{seeded.delivered.public_no}/returns/{seeded.return_id}"),
    )
    yield "order history", go(f"/orders/{seeded.delivered.public_no}/history")


STAFF_PAGES = (
    "/admin/operations",
    "/admin/orders",
    "/admin/exceptions",
    "/admin/address-requests",
    "/admin/returns",
    "/admin/reconciliation",
    "/admin/import",
    "/admin/skus",
    "/admin/goodwill",
    "/warehouse/scan",
)


def staff_visits(seeded: Seeded) -> Iterator[tuple[str, Callable]]:
    def go(path: str) -> Callable[[Page], object]:
        return lambda page: page.goto(path)

    def login(page: Page) -> None:
        page.goto("/admin/login")

    def search(page: Page) -> None:
        page.goto(f"/admin/orders?q={seeded.shipped.public_no}")

    def scanned(page: Page) -> None:
        page.goto("/warehouse/scan")
        page.get_by_label("扫描或输入订单号/运单号").fill(seeded.editable.public_no)
        page.get_by_role("button", name="打包并锁定地址").click()
        page.locator("#scan_result section").first.wait_for()

    yield "login", login
    for path in STAFF_PAGES:
        yield path, go(path)
    yield "search", search
    for order in (seeded.shipped, seeded.editable, seeded.delivered):
        yield f"order {order.status}", go(f"/admin/orders/{order.id}")
    yield "scan result", scanned
    for held in seeded.held:
        yield f"held order {held}", go(f"/admin/orders/{held}")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_customer_page_has_no_serious_accessibility_violation(
    page: Page, database: Database, seeded: Seeded, locale: str
) -> None:
    if locale == "en":
        page.goto("/language?to=en&next=/lookup")
    found: list[str] = []
    for name, visit in customer_visits(database, seeded):
        if locale == "en" and name in ("address code", "address lost race"):
            continue  # the steps are driven by their Chinese labels; the pages are the same
        visit(page)
        found += [f"[{name}] {violation}" for violation in blocking_violations(page)]
    assert not found, "\n".join(found)


def test_every_staff_page_has_no_serious_accessibility_violation(
    page: Page, database: Database, seeded: Seeded
) -> None:
    add_staff(database, "axe-admin", Role.ADMIN, STAFF_PASSWORD, SYSTEM)
    found: list[str] = []
    for name, visit in staff_visits(seeded):
        visit(page)
        found += [f"[{name}] {violation}" for violation in blocking_violations(page)]
        if name == "login":
            page.get_by_label("用户名").fill("axe-admin")
            page.get_by_label("密码").fill(STAFF_PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.wait_for_url("**/admin/orders")
    assert not found, "\n".join(found)
