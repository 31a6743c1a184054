"""Staff changes through the pages: only with the power for it, and each one audited."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.orders.inventory import save_sku
from backend.orders.models import ChannelSku, Order, Sku
from backend.staff.models import Role
from backend.staff.permissions import Permission
from tests.factories import SYSTEM, make_order
from tests.portal.helpers import csrf_token, staff_login
from tests.staff_world import IMPORT_CSV, changed_tables, snapshot

TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"


def _events(database, action):
    with database.read() as session:
        return [
            (event.actor_id, event.before, event.after)
            for event in session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]


def _sku(database, code="TEA-1"):
    with database.read() as session:
        sku = session.scalars(select(Sku).where(Sku.code == code)).one()
        return sku.name, sku.on_hand, sku.cost_fen


def test_the_warehouse_counts_stock_but_can_neither_see_nor_change_a_cost(client, database):
    save_sku(database, "TEA-1", "西湖龙井 250g", 50, 16_080, SYSTEM)
    staff_login(client, database, Role.WAREHOUSE, name="仓库小张")
    page = client.get("/admin/skus")
    assert page.status_code == 200 and "TEA-1" in page.text
    assert "160.80" not in page.text and 'name="cost_yuan"' not in page.text
    token = csrf_token(client, "/admin/skus")
    before = snapshot(database)
    form = {"code": "TEA-1", "name": "西湖龙井 250g", "on_hand": "50", "cost_yuan": "1.00"}
    refused = client.post("/admin/skus", data={**form, "csrf_token": token})
    assert refused.status_code == 403
    assert changed_tables(before, snapshot(database)) == set()
    counted = client.post(
        "/admin/skus",
        data={**form, "on_hand": "48", "cost_yuan": "", "csrf_token": token},
        follow_redirects=False,
    )
    assert counted.status_code == 303
    assert _sku(database) == ("西湖龙井 250g", 48, 16_080)


def test_a_sku_save_and_a_channel_mapping_are_audited_with_before_and_after(client, database):
    staff_login(client, database, Role.FINANCE, name="财务小王")
    token = csrf_token(client, "/admin/skus")
    sku = {"code": "tea-1", "name": "龙井", "on_hand": "50", "cost_yuan": "160.80"}
    client.post("/admin/skus", data={**sku, "csrf_token": token})
    client.post(
        "/admin/skus", data={**sku, "on_hand": "40", "cost_yuan": "150", "csrf_token": token}
    )
    mapping = {"channel": "taobao", "channel_sku": "3608123456", "code": "TEA-1"}
    client.post("/admin/skus", data={**mapping, "csrf_token": token})
    created = {"code": "TEA-1", "name": "龙井", "on_hand": 50, "cost_fen": 16_080}
    assert _events(database, "sku.created") == [("财务小王", None, created)]
    updated = {**created, "on_hand": 40, "cost_fen": 15_000}
    assert _events(database, "sku.updated") == [("财务小王", created, updated)]
    with database.read() as session:
        sku_id = session.scalars(select(ChannelSku.sku_id)).one()
    assert _events(database, "sku.channel_mapped") == [
        ("财务小王", None, {**mapping, "sku_id": sku_id})
    ]


def test_a_reconciliation_upload_is_audited_with_its_channel_day_rows_and_differences(
    client, database
):
    order = make_order(database)
    staff_login(client, database, Role.FINANCE, name="财务小王")
    export = f"订单号,状态,实付金额\n{order.channel_order_no},交易成功,1.00\nX9,交易成功,5.00\n"
    answer = client.post(
        "/admin/reconciliation",
        data={"channel": "taobao", "day": "2026-11-20"},
        files={"export": ("taobao.csv", export.encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf_token(client, "/admin/reconciliation")},
    )
    assert answer.status_code == 200  # followed to the reports
    (event,) = _events(database, "reconciliation.compared")
    after = {
        "channel": "taobao",
        "shop_id": None,  # uploaded for the channel as a whole, not one of its shops
        "day": "2026-11-20",
        "rows": 2,
        "differences": 2,
    }
    assert event == ("财务小王", None, after)


def test_an_import_is_audited_and_the_orders_it_creates_name_the_importing_staff_member(
    client, database
):
    staff_login(client, database, Role.SUPPORT, name="客服小李")
    answer = client.post(
        "/admin/import",
        files={"file": ("phone-orders.csv", IMPORT_CSV, "text/csv")},
        headers={"X-CSRF-Token": csrf_token(client, "/admin/import")},
    )
    assert answer.status_code == 200
    (event,) = _events(database, "orders.imported")
    assert event[0] == "客服小李"
    assert event[2] == {
        "file": "phone-orders.csv",
        "lines": 1,
        "orders": 1,
        "created": 1,
        "unchanged": 0,
        "errors": 0,
        "rows_with_errors": 0,
    }
    with database.read() as session:
        order_id = session.scalars(select(Order.id)).one()
        ingested = session.scalars(
            select(AuditEvent.actor_id).where(
                AuditEvent.order_id == order_id, AuditEvent.action == "order.ingested"
            )
        ).all()
    assert ingested == ["客服小李"]


def test_only_finance_and_admin_download_the_finance_csv_and_each_download_is_audited(
    settings, database
):
    from starlette.testclient import TestClient

    from portal.app import create_app

    answers = {}
    for role in Role:
        with TestClient(create_app(settings, database)) as client:
            staff_login(client, database, role)
            answers[role] = client.get("/admin/finance.csv?month=2026-11").status_code
    assert answers == {
        Role.SUPPORT: 403,
        Role.WAREHOUSE: 403,
        Role.SUPERVISOR: 403,
        Role.FINANCE: 200,
        Role.ADMIN: 200,
    }
    exported = _events(database, "finance.exported")
    assert [(who, after["month"]) for who, _, after in exported] == [
        ("finance-user", "2026-11"),
        ("admin-user", "2026-11"),
    ]


def _nav(html):
    nav = re.search(r'<nav class="bar-nav">(.*?)</nav>', html, re.S).group(1)
    return set(re.findall(r'href="([^"]+)"', nav))


def test_the_nav_and_the_page_actions_show_each_role_only_what_it_may_use(settings, database):
    from starlette.testclient import TestClient

    from portal.app import create_app

    save_sku(database, "TEA-1", "西湖龙井 250g", 50, 16_080, SYSTEM)
    seen = {}
    for role in Role:
        with TestClient(create_app(settings, database)) as client:
            staff_login(client, database, role)
            nav = _nav(client.get("/admin/orders").text)
            costs = "¥160.80" in client.get("/admin/skus").text if "/admin/skus" in nav else None
            recon = (
                client.get("/admin/reconciliation").text if "/admin/reconciliation" in nav else ""
            )
            seen[role] = (nav, costs, "/admin/finance.csv" in recon)
    everyone = {"/admin/orders", "/admin/operations", "/admin/exceptions"}
    warehouse = everyone | {
        "/admin/skus",
        "/warehouse/scan",
        "/admin/waybills/import",
        "/admin/confirmations",
        "/admin/cancellations",  # the parcels of cancelled packed orders to unpack
        "/admin/exchanges",
    }
    assert seen[Role.WAREHOUSE] == (warehouse, False, False)
    support = everyone | {"/admin/address-requests", "/admin/returns", "/admin/import"}
    support |= {"/admin/in-transit-refunds", "/admin/cancellations"}
    assert seen[Role.SUPPORT] == (support, None, False)
    finance = everyone | {"/admin/returns", "/admin/reconciliation", "/admin/skus"}
    finance |= {"/admin/invoices", "/admin/in-transit-refunds", "/admin/cancellations"}
    assert seen[Role.FINANCE] == (finance, True, True)
    supervisor = support | {
        "/admin/reconciliation",
        "/admin/skus",
        "/warehouse/scan",
        "/admin/jobs",
        "/admin/integrations",
        "/admin/rules",
        "/admin/waybills/import",
        "/admin/confirmations",
        "/admin/exchanges",
    }
    assert seen[Role.SUPERVISOR] == (supervisor, False, False)
    assert seen[Role.ADMIN] == (supervisor | {"/admin/invoices", "/admin/staff"}, True, True)


def test_templates_ask_only_for_permissions_that_exist():
    asked = {
        name
        for path in TEMPLATES.rglob("*.html")
        for name in re.findall(r"""staff\.can\(\s*['"](\w+)['"]""", path.read_text())
    }
    assert asked and asked <= {str(permission) for permission in Permission}
