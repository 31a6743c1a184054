"""Every customer page the phone benchmark opens, on a seeded demo, with the cookies to open it.

The pages are the GET routes of portal/routes that answer a customer with a full HTML
page (customer_access, tracking, history, address, cancel, returns, exchanges,
in_transit, invoices). Left out, as they are not pages a phone loads on its own: the
htmx partials (/orders/<no>/timeline, /divisions), the POST-only verbs (support's remind,
messages and receipt, whose card is part of the tracking page, and the forms' submits),
/language (a redirect that sets a cookie), the WeChat OAuth callback (a redirect),
the invoice PDF and the return photos (not HTML), and the mini-program's JSON API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.db import Database
from backend.orders.access import LinkSigner
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from bench import BENCH_SECRET, DemoOrder, get_demo_order, issue_code
from portal.app import create_app

# The same server answers this with the least a page can be: the figure every page is
# held against, so a busy machine moves both alike.
BASELINE_PATH = "/bench/minimal"
BASELINE_HTML = (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>最小页面</title></head><body><h1>订单查询</h1>"
    "<p>同一台服务器、同样的限速下，一个没有样式和脚本的最小页面。</p></body></html>"
)


def create_served_app() -> ASGIApp:
    """`uvicorn --factory bench.phone_pages:create_served_app`: the portal, plus the baseline."""
    portal = create_app()
    baseline = HTMLResponse(BASELINE_HTML)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == BASELINE_PATH:
            await baseline(scope, receive, send)
            return
        await portal(scope, receive, send)

    return app


@dataclass(frozen=True)
class CustomerPage:
    name: str
    path: str
    # The customer's cookies (session, CSRF); None for a visitor who has none yet.
    cookies: dict[str, str] | None
    # Text the page must contain, checked once before it is measured.
    expect: str
    status: int = 200


@dataclass(frozen=True)
class DemoOrders:
    shipped: DemoOrder
    parcels: int
    paid: int
    delivered: int
    returned: int


def _public_no(database: Database, order_id: int) -> str:
    with database.read() as session:
        public_no = session.scalar(select(Order.public_no).where(Order.id == order_id))
    assert public_no is not None
    return public_no


def _order_of(database: Database, status: OrderStatus, skip: int = 0) -> int:
    with database.read() as session:
        order_id = session.scalar(
            select(Order.id)
            .where(Order.status == status, Order.hold_reason.is_(None))
            .order_by(Order.id)
            .offset(skip)
            .limit(1)
        )
    if order_id is None:
        raise LookupError(f"the demo has no {status} order")
    return order_id


def pick_orders(database: Database) -> DemoOrders:
    return DemoOrders(
        shipped=get_demo_order(database),
        parcels=_order_of(database, OrderStatus.PARTIALLY_SHIPPED),
        paid=_order_of(database, OrderStatus.PAID),
        delivered=_order_of(database, OrderStatus.DELIVERED),
        returned=_order_of(database, OrderStatus.DELIVERED, skip=1),
    )


def sign_in(base: str, database: Database, order_id: int) -> dict[str, str]:
    """The cookies a customer's browser holds after following the order's SMS link."""
    code = issue_code(database, _demo(database, order_id))
    with httpx.Client(base_url=base, timeout=10) as client:
        entered = client.get(f"/t/{code}")
        if entered.status_code != 303 or "portal_customer" not in entered.cookies:
            raise RuntimeError(f"/t/<code> answered {entered.status_code} without a session")
        return dict(client.cookies.items())


def _demo(database: Database, order_id: int) -> DemoOrder:
    return DemoOrder(order_id, _public_no(database, order_id), 0, 0, 0)


def file_return(base: str, cookies: dict[str, str], public_no: str) -> str:
    """Files a return through the form, as a customer does; the path of its progress page."""
    with httpx.Client(base_url=base, cookies=cookies, timeout=10) as client:
        form = client.get(f"/orders/{public_no}/return")
        line = re.search(r'name="qty_(\d+)"', form.text)
        if form.status_code != 200 or line is None:
            raise RuntimeError(f"the return form answered {form.status_code} without lines")
        filed = client.post(
            f"/orders/{public_no}/return",
            data={
                "csrf_token": cookies["portal_csrf"],
                f"qty_{line.group(1)}": "1",
                "refund_type": "return_and_refund",
                "reason": "no_reason_7_days",
                "description": "尺码不合适",
            },
        )
        target = str(filed.headers.get("location", ""))
        if filed.status_code != 303 or "/returns/" not in target:
            raise RuntimeError(f"filing a return answered {filed.status_code} ({target})")
        return target


def list_pages(base: str, database: Database) -> list[CustomerPage]:
    orders = pick_orders(database)
    shipped = orders.shipped
    code = issue_code(database, shipped)
    with database.read() as session:
        version = session.scalar(select(Order.link_version).where(Order.id == shipped.order_id))
    # The lifetime only matters when a link is read; the server reads it with its own.
    token = LinkSigner([BENCH_SECRET], timedelta(days=1)).sign(shipped.order_id, version or 1)
    moving = sign_in(base, database, shipped.order_id)
    parcels = sign_in(base, database, orders.parcels)
    paid = sign_in(base, database, orders.paid)
    delivered = sign_in(base, database, orders.delivered)
    returned = sign_in(base, database, orders.returned)
    progress = file_return(base, returned, _public_no(database, orders.returned))
    on = f"/orders/{shipped.public_no}"
    paid_no, delivered_no = (
        _public_no(database, orders.paid),
        _public_no(database, orders.delivered),
    )
    parcels_no = _public_no(database, orders.parcels)
    return [
        CustomerPage("home (/ to lookup)", "/", None, "lookup_form"),
        CustomerPage("lookup", "/lookup", None, "lookup_form"),
        CustomerPage("SMS link /t/<code>", f"/t/{code}", None, shipped.public_no),
        CustomerPage("signed link /o/<token>", f"/o/{token}", None, shipped.public_no),
        CustomerPage("link problem", "/t/23456789", None, "/lookup", status=404),
        CustomerPage("orders", "/orders", moving, shipped.public_no),
        CustomerPage("tracking", on, moving, 'id="timeline"'),
        CustomerPage("tracking, parcels", f"/orders/{parcels_no}", parcels, 'class="parcel'),
        CustomerPage("history", f"{on}/history", moving, shipped.public_no),
        CustomerPage("refund in transit", f"{on}/refund-in-transit", moving, "<form"),
        CustomerPage("address change", f"/orders/{paid_no}/address", paid, "<form"),
        CustomerPage("cancel", f"/orders/{paid_no}/cancel", paid, "<form"),
        CustomerPage("return form", f"/orders/{delivered_no}/return", delivered, 'name="qty_'),
        CustomerPage("return progress", progress, returned, 'id="return_progress"'),
        CustomerPage("exchange", f"/orders/{delivered_no}/exchange", delivered, "<form"),
        CustomerPage("invoice", f"/orders/{delivered_no}/invoice", delivered, "<form"),
    ]


def check_pages(base: str, pages: list[CustomerPage]) -> None:
    """Each page once, without a browser: a figure for an error page would be no figure."""
    for page in pages:
        with httpx.Client(base_url=base, cookies=page.cookies, timeout=10) as client:
            answer = client.get(page.path, follow_redirects=True)
        if answer.status_code != page.status or page.expect not in answer.text:
            raise RuntimeError(f"{page.name} ({page.path}) answered {answer.status_code}")
