"""Held orders through the staff pages: every page answers, two people release a high value."""

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.demo import seed_operations, seed_orders
from backend.orders.intake import IntakeRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import HoldReason, Order, Sku
from backend.staff.models import Role
from portal.app import create_app
from tests.portal.helpers import csrf_token, staff_login

TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"
ROUTE_NAME_USE = re.compile(r"""\burl_(?:path|for)\(\s*['"]([\w.:-]+)['"]""")


def route_names(routes, prefix="") -> set[str]:
    names = set()
    for route in routes:
        if isinstance(route, Mount):
            names |= route_names(route.routes or [], f"{prefix}{route.name}:" if route.name else "")
            if route.name:
                names.add(prefix + route.name)
        elif isinstance(route, Route):
            names.add(prefix + route.name)
    return names


def test_every_route_name_a_template_uses_is_a_registered_route(settings, database):
    registered = route_names(create_app(settings, database).routes)
    used = {
        (path.relative_to(TEMPLATES).as_posix(), name)
        for path in TEMPLATES.rglob("*.html")
        for name in ROUTE_NAME_USE.findall(path.read_text())
    }
    assert {name for _, name in used} >= {"admin_approve_hold", "tracking", "static"}
    assert {(path, name) for path, name in used if name not in registered} == set()


@pytest.fixture
def demo(database):
    seed_orders(database, rules=IntakeRules())
    seed_operations(database, IntakeRules())
    with database.read() as session:
        return dict(session.execute(select(Order.id, Order.hold_reason)).all())


STAFF_PAGES = (
    "/admin/orders",
    "/admin/operations",
    "/admin/exceptions",
    "/admin/address-requests",
    "/admin/returns",
    "/admin/reconciliation",
    "/admin/import",
    "/admin/skus",
    "/admin/finance.csv",
    "/warehouse/scan",
)


def test_every_staff_page_answers_for_every_order_state_and_hold_of_the_demo(
    client, database, demo
):
    with database.read() as session:
        statuses = set(session.scalars(select(Order.status)))
    assert statuses == set(OrderStatus)
    assert {reason for reason in demo.values() if reason} == {
        HoldReason.DUPLICATE_SUSPECT,
        HoldReason.HIGH_VALUE,
        HoldReason.BELOW_COST,
        HoldReason.UNKNOWN_SKU,
    }
    staff_login(client, database, Role.ADMIN)
    failures = {
        path: client.get(path).status_code
        for path in (*STAFF_PAGES, *(f"/admin/orders/{order_id}" for order_id in demo))
    }
    assert {path: code for path, code in failures.items() if code != 200} == {}
    held = next(order_id for order_id, reason in demo.items() if reason == HoldReason.HIGH_VALUE)
    html = client.get(f"/admin/orders/{held}").text
    assert "高价值订单" in html and "由财务处理" in html and "审核通过并放行" in html


def _approve(client, order_id):
    token = csrf_token(client, f"/admin/orders/{order_id}")
    return client.post(
        f"/admin/orders/{order_id}/hold", data={"csrf_token": token}, follow_redirects=True
    )


def _hold_of(database, order_id):
    with database.read() as session:
        return session.get(Order, order_id).hold_reason


def test_a_high_value_order_is_released_by_two_different_people_through_the_pages(
    settings, database, demo
):
    order_id = next(oid for oid, reason in demo.items() if reason == HoldReason.HIGH_VALUE)
    first, second = (
        TestClient(create_app(settings, database)),
        TestClient(create_app(settings, database)),
    )
    staff_login(first, database, Role.FINANCE, name="财务小王")
    staff_login(second, database, Role.SUPERVISOR, name="主管老李")
    answer = _approve(first, order_id)
    assert answer.status_code == 200 and "还需第二人审核" in answer.text
    assert _hold_of(database, order_id) == HoldReason.HIGH_VALUE
    again = _approve(first, order_id)
    assert "必须由另一人完成" in again.text
    assert _hold_of(database, order_id) == HoldReason.HIGH_VALUE
    released = _approve(second, order_id)
    assert "订单已放行" in released.text
    assert _hold_of(database, order_id) is None
    with database.read() as session:
        actors = list(
            session.scalars(
                select(AuditEvent.actor_id).where(
                    AuditEvent.order_id == order_id, AuditEvent.action == "order.hold_released"
                )
            )
        )
    assert actors == ["主管老李"]


def test_warehouse_staff_cannot_release_a_hold(client, database, demo):
    order_id = next(oid for oid, reason in demo.items() if reason == HoldReason.DUPLICATE_SUSPECT)
    staff_login(client, database, Role.WAREHOUSE)
    page = client.get(f"/admin/orders/{order_id}").text
    assert "审核通过并放行" not in page
    token = csrf_token(client, "/warehouse/scan")
    refused = client.post(f"/admin/orders/{order_id}/hold", data={"csrf_token": token})
    assert refused.status_code == 403
    assert _hold_of(database, order_id) == HoldReason.DUPLICATE_SUSPECT


def test_the_pack_scan_refuses_a_held_order_and_says_why_and_who_acts(client, database, demo):
    order_id = next(oid for oid, reason in demo.items() if reason == HoldReason.HIGH_VALUE)
    with database.read() as session:
        public_no = session.get(Order, order_id).public_no
        reserved_before = session.scalar(select(func.sum(Sku.reserved)))
    staff_login(client, database, Role.WAREHOUSE)
    token = csrf_token(client, "/warehouse/scan")
    answer = client.post(
        "/warehouse/scan",
        data={"code": public_no},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert answer.status_code == 409
    assert "请勿打包" in answer.text and "高价值订单" in answer.text
    assert "须由财务在订单页面审核放行" in answer.text
    with database.read() as session:
        order = session.get(Order, order_id)
        assert (order.status, order.address_locked_at) == (OrderStatus.PAID, None)
        packed = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.order_id == order_id, AuditEvent.action == "order.pack_scanned")
        )
        assert packed == 0
        assert session.scalar(select(func.sum(Sku.reserved))) == reserved_before
