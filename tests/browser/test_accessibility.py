"""axe-core on every customer page (on a phone) and every staff page (at 320 px and 1280 px).

The staff pages are the app's own route table: every GET route under /admin and /warehouse,
its path parameters filled from the seed, or named in EXCLUDED with the reason.

axe.min.js comes from the axe-playwright-python package (a test dependency) and is run
through Playwright's evaluate, which the pages' CSP does not apply to: nothing is loaded
from a CDN and the pages need no exception for the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Playwright, expect
from sqlalchemy import select, update
from starlette.routing import BaseRoute, Mount, Route

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.demo import seed_operations
from backend.disclosure import reveal_contact
from backend.goodwill.service import request_goodwill
from backend.invoices.models import TitleKind
from backend.invoices.service import InvoiceTitle, request_invoice
from backend.jobs import GiveUp
from backend.jobs.worker import Worker
from backend.logistics.warehouse import scan_parcel
from backend.orders.address_changes import confirm_address_change, start_address_change
from backend.orders.address_policy import AddressRules
from backend.orders.intake import IntakeRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, OrderLine
from backend.orders.service import NewAddress, NewLine
from backend.refunds import payouts
from backend.refunds.rules import RefundRules, RefundType
from backend.refunds.service import file_return
from backend.staff.accounts import add_staff
from backend.staff.models import Role, StaffUser
from backend.staff.second_factor import begin_enrolment, confirm_enrolment
from backend.support.lifecycle import NoteKind
from backend.support.notes import add_note
from portal.app import create_app
from portal.settings import Settings
from tests.browser.live import phone_context_options
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


STAFF_PREFIXES = ("/admin", "/warehouse")
PATH_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
# Staff routes the staff test does not open, each with why. Anything else that answers GET
# under /admin or /warehouse is visited, and the guard below fails on a route in neither.
EXCLUDED = {
    "/admin/logout": "POST only, and it would end the session the other pages need",
    "/admin/finance.csv": "a CSV export, not an HTML page",
    "/admin/skus/{sku_id:id}/image": "a catalogue image, not an HTML page",
    "/admin/return-photos/{photo_id:id}": "a customer's photo, not an HTML page",
    "/admin/invoices/{invoice_id:id}/pdf": "an invoice PDF, not an HTML page",
    "/warehouse/shipments/{shipment_id:id}/label.pdf": "a label PDF, not an HTML page",
}
# Opened first, logged out, and last, in the middle of a two-step login.
LOGGED_OUT = ("/admin/login", "/admin/login/code")


@dataclass(frozen=True)
class StaffRoute:
    path: str
    methods: frozenset[str]


def staff_routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[StaffRoute]:
    """Every route under /admin and /warehouse in the app's route table, Mounts walked."""
    for route in routes:
        if isinstance(route, Mount):
            yield from staff_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = prefix + route.path
            if path.startswith(STAFF_PREFIXES):
                yield StaffRoute(path, frozenset(route.methods or ()))


def fill(path: str, values: dict[str, tuple[int, ...]]) -> list[str]:
    """The path once per seeded value of its parameter; none when a parameter has no value."""
    names = PATH_PARAMETER.findall(path)
    if not names:
        return [path]
    if len(names) > 1 or names[0] not in values:
        return []
    return [PATH_PARAMETER.sub(str(value), path) for value in values[names[0]]]


def all_violations(page: Page) -> list[str]:
    """Every axe finding, whatever its impact, and a page without exactly one <h1>."""
    results = Axe().run(page).response
    found = [
        f"{page.url}: {v['id']} ({v['impact']}): "
        + "; ".join(str(node["target"][0]) for node in v["nodes"][:3])
        for v in results["violations"]
    ]
    headings = page.locator("h1").count()
    if headings != 1:
        found.append(f"{page.url}: {headings} <h1> elements, want one")
    return found


def staff_visits(
    get_paths: Sequence[str], database: Database, seeded: Seeded
) -> Iterator[tuple[str, str, Callable[[Page], object]]]:
    """(route, name, how to get there) for every staff GET route and a few states of them."""
    orders = (seeded.shipped, seeded.editable, seeded.delivered, seeded.in_parcels)
    values = {
        "order_id": (*(order.id for order in orders), *seeded.held),
        # One customer holds the seeded orders (one phone); give their page notes and a reveal.
        "customer_id": tuple({order.customer_id for order in orders}),
    }
    support = Actor(ActorKind.STAFF, "axe-support", channel="test", role=Role.SUPPORT)
    add_note(database, seeded.delivered.id, NoteKind.COMPLAINT, "包装破损，客户来电", support)
    add_note(database, seeded.shipped.id, NoteKind.NOTE, "老客户", support)
    reveal_contact(database, seeded.shipped.id, "客户来电核对地址", support)

    def go(path: str) -> Callable[[Page], object]:
        return lambda page: page.goto(path)

    def search(page: Page) -> None:
        page.goto(f"/admin/orders?q={seeded.shipped.public_no}")

    def scanned(page: Page) -> None:
        page.goto("/warehouse/scan")
        page.get_by_label("扫描或输入订单号/运单号").fill(seeded.editable.public_no)
        page.get_by_role("button", name="打包并锁定地址").click()
        page.locator("#scan_result section").first.wait_for()

    def code_step(page: Page) -> None:
        page.context.clear_cookies()
        page.goto("/admin/login")
        log_in(page, enrolled_staff(database))
        page.wait_for_url("**/admin/login/code")

    yield "/admin/login", "login", go("/admin/login")
    for route in get_paths:
        if route in EXCLUDED or route in LOGGED_OUT:
            continue
        for path in fill(route, values):
            yield route, path, go(path)
    yield "/admin/orders", "search", search
    yield "/warehouse/scan", "scan result", scanned
    yield "/admin/login/code", "second factor code", code_step


def fill_staff_queues(database: Database, seeded: Seeded) -> None:
    """A row in queues the seed leaves empty, so their tables are checked with content."""
    customer = Actor(ActorKind.CUSTOMER, "test", channel="test")
    invoice_title = InvoiceTitle(TitleKind.PERSONAL, "张三")
    request_invoice(
        database, seeded.delivered.id, seeded.delivered.customer_id, invoice_title, customer
    )
    supervisor = Actor(ActorKind.STAFF, "axe-admin", channel="test", role=Role.ADMIN)
    # A limit of zero: the compensation waits for finance, so the goodwill queue has a row.
    request_goodwill(
        database, seeded.shipped.id, 500, "快递压坏外盒", "axe-goodwill-1", supervisor, 0
    )
    with database.write() as session:
        payouts.start_refund(session, seeded.delivered.id, 1_000, SYSTEM)
    Worker(database, {payouts.EXECUTE: give_up}).run_until_idle()


def give_up(database: Database, payload: object) -> None:
    raise GiveUp("WeChat Pay said NOT_ENOUGH: 商户余额不足")


def log_in(page: Page, name: str) -> None:
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()


def enrolled_staff(database: Database) -> str:
    """A supervisor with a confirmed authenticator, so a login stops at the code step."""
    name = "axe-with-code"
    add_staff(database, name, Role.SUPERVISOR, STAFF_PASSWORD, SYSTEM)
    with database.read() as session:
        staff_id = session.scalar(select(StaffUser.id).where(StaffUser.name == name))
    assert staff_id is not None
    self_actor = Actor(ActorKind.STAFF, name, channel="test", role=Role.SUPERVISOR)
    enrolment = begin_enrolment(database, staff_id, self_actor)
    confirm_enrolment(database, staff_id, pyotp.TOTP(enrolment.secret).now(), self_actor)
    return name


@pytest.fixture
def staff_page(
    request: pytest.FixtureRequest, browser: Browser, playwright: Playwright, live_server: str
) -> Iterator[Page]:
    """A page at the parametrized viewport: a 320 px phone, or a desk browser at 1280 px."""
    width, height = request.param
    if width < 720:
        options = {
            **phone_context_options(playwright),
            "viewport": {"width": width, "height": height},
        }
    else:
        options = {"viewport": {"width": width, "height": height}, "locale": "zh-CN"}
    context = browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


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


@pytest.mark.parametrize(
    "staff_page", [(320, 568), (1280, 800)], ids=["phone-320", "desk-1280"], indirect=True
)
def test_every_staff_page_has_no_accessibility_violation(
    staff_page: Page, settings: Settings, database: Database, seeded: Seeded
) -> None:
    add_staff(database, "axe-admin", Role.ADMIN, STAFF_PASSWORD, SYSTEM)
    fill_staff_queues(database, seeded)
    routes = list(staff_routes(create_app(settings, database).routes))
    stale = sorted(set(EXCLUDED) - {route.path for route in routes})
    assert not stale, f"EXCLUDED names routes the app no longer has: {stale}"
    get_paths = [route.path for route in routes if "GET" in route.methods]
    page = staff_page
    found: list[str] = []
    visited: set[str] = set()
    for route, name, visit in staff_visits(get_paths, database, seeded):
        visit(page)
        visited.add(route)
        found += [f"[{name}] {violation}" for violation in all_violations(page)]
        if name == "login":
            log_in(page, "axe-admin")
            page.wait_for_url("**/admin/orders")
    # A new route whose parameter the seed cannot fill lands here, not silently skipped.
    missed = sorted(set(get_paths) - visited - set(EXCLUDED))
    assert not missed, f"staff GET routes neither visited nor excluded: {missed}"
    assert not found, "\n".join(found)
