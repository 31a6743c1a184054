"""A warehouse login tied to one warehouse sees, finds and packs only that warehouse's orders.

Set on the staff page or with `portal staff warehouse`; in force from the next request,
read from the database with the session, through HTTP as it runs.
"""

from __future__ import annotations

from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.orders.models import Order
from backend.staff.models import Role
from backend.warehouse_logins import assign_warehouse
from portal.cli import main as portal_main
from tests.portal.helpers import ADMIN, csrf_token, staff_login
from tests.staff_world import build_world, changed_tables, snapshot


def _public_no(database, order_id: int) -> str:
    with database.read() as session:
        return session.scalar(select(Order.public_no).where(Order.id == order_id))


def test_a_login_tied_to_shanghai_cannot_open_find_move_or_pack_a_hangzhou_order(client, database):
    world = build_world(database)  # its held order is reserved at HZ
    held_no = _public_no(database, world.held_order_id)
    name = staff_login(client, database, Role.WAREHOUSE, name="上海仓小李")
    assert client.get(f"/admin/orders/{world.held_order_id}").status_code == 200

    assign_warehouse(database, name, "sh", ADMIN)
    # The session stays; the very next request is confined.
    assert client.get(f"/admin/orders/{world.held_order_id}").status_code == 404
    link = f'href="/admin/orders/{world.held_order_id}"'
    assert link not in client.get(f"/admin/orders?q={held_no}").text
    token = csrf_token(client, "/warehouse/scan")
    before = snapshot(database)
    moved = client.post(
        f"/admin/orders/{world.held_order_id}/allocation",
        data={"warehouse": "SH", "csrf_token": token},
        follow_redirects=False,
    )
    assert moved.status_code == 404
    scanned = client.post("/warehouse/scan", data={"code": held_no, "csrf_token": token})
    # Not found, as if it did not exist; not packed.
    assert scanned.status_code == 404
    assert changed_tables(before, snapshot(database)) == set()

    assign_warehouse(database, name, "HZ", ADMIN)
    assert client.get(f"/admin/orders/{world.held_order_id}").status_code == 200
    assert link in client.get(f"/admin/orders?q={held_no}").text


def test_other_roles_are_not_tied_and_the_staff_page_and_cli_set_it(client, database, monkeypatch):
    build_world(database)
    staff_login(client, database, Role.WAREHOUSE, name="wh-1")
    admin = staff_login(client, database, Role.ADMIN, name="boss")
    token = csrf_token(client, "/admin/staff")
    page = client.get("/admin/staff")
    assert 'action="/admin/staff/warehouse"' in page.text
    tied = client.post(
        "/admin/staff/warehouse",
        data={"name": "wh-1", "warehouse": "HZ", "csrf_token": token},
        follow_redirects=False,
    )
    assert tied.status_code == 303 and tied.headers["location"].endswith("done=warehouse")
    assert "仅限 HZ" in client.get("/admin/staff").text
    refused = client.post(
        "/admin/staff/warehouse", data={"name": admin, "warehouse": "HZ", "csrf_token": token}
    )
    assert refused.status_code == 409
    unknown = client.post(
        "/admin/staff/warehouse", data={"name": "wh-1", "warehouse": "XX", "csrf_token": token}
    )
    assert unknown.status_code == 422
    with database.read() as session:
        changes = session.scalars(
            select(AuditEvent.after).where(AuditEvent.action == "staff.warehouse_changed")
        ).all()
    assert changes == [{"warehouse": "HZ"}]

    monkeypatch.setenv("PORTAL_DATABASE_URL", database.url)
    assert portal_main(["staff", "warehouse", "wh-1", "sh"]) == 0
    assert portal_main(["staff", "warehouse", "wh-1", "nowhere"]) == 1
    assert portal_main(["staff", "warehouse", "nobody", "sh"]) == 1
    assert portal_main(["staff", "warehouse", "wh-1"]) == 0  # every warehouse again
    with database.read() as session:
        changes = session.scalars(
            select(AuditEvent.after).where(AuditEvent.action == "staff.warehouse_changed")
        ).all()
    assert changes[1:] == [{"warehouse": "SH"}, {"warehouse": None}]
