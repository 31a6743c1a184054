"""Staff see where each line ships from, move it, and accept transfers, through the pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.orders.lifecycle import OrderAction
from backend.orders.models import HoldReason, Order, TransferProposal
from backend.orders.service import apply_action
from backend.orders.warehouses import set_stock
from backend.staff.models import Role
from tests.backend.test_warehouse_stock import placements, stock_rows
from tests.factories import SYSTEM
from tests.portal.helpers import csrf_token, staff_login
from tests.staff_world import build_world, changed_tables, snapshot

PLACEMENT = re.compile(r'<tr class="placement" data-line="\d+" data-warehouse="(\w+)">')


def _post(client, path, data):
    token = csrf_token(client, "/admin/login")
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def _audit(database, action):
    with database.read() as session:
        return [
            (event.actor_id, event.order_id, event.after)
            for event in session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        ]


def test_the_order_page_lists_each_lines_warehouse_and_moves_the_order_to_another(client, database):
    world = build_world(database)
    staff_login(client, database, Role.WAREHOUSE, name="仓库小张")
    page = client.get(f"/admin/orders/{world.held_order_id}")
    assert PLACEMENT.findall(page.text) == ["HZ"] and "杭州仓" in page.text
    assert f'action="/admin/orders/{world.held_order_id}/allocation"' in page.text
    moved = _post(client, f"/admin/orders/{world.held_order_id}/allocation", {"warehouse": "sh"})
    assert moved.status_code == 303 and moved.headers["location"].endswith("notice=reallocated")
    assert placements(database)[world.held_order_id] == {("TEA-1", "SH")}
    stock = stock_rows(database)
    assert stock[("HZ", "TEA-1")] == (50, 0) and stock[("SH", "TEA-1")] == (10, 1)
    assert _audit(database, "order.reallocated") == [
        (
            "仓库小张",
            world.held_order_id,
            {"warehouse": "SH", "line": None},
        )
    ]
    page = client.get(moved.headers["location"])
    assert PLACEMENT.findall(page.text) == ["SH"] and "已改由所选仓库发货" in page.text


def test_a_move_to_a_warehouse_without_the_units_or_after_packing_is_refused_and_changes_nothing(
    client, database
):
    world = build_world(database)
    set_stock(database, "SH", "TEA-1", 0, SYSTEM)
    staff_login(client, database, Role.SUPERVISOR)
    before = snapshot(database)
    short = _post(client, f"/admin/orders/{world.held_order_id}/allocation", {"warehouse": "SH"})
    assert short.headers["location"].endswith("notice=not_enough_stock")
    assert "该仓库没有足够的可用库存" in client.get(short.headers["location"]).text
    unknown = _post(client, f"/admin/orders/{world.held_order_id}/allocation", {"warehouse": "X"})
    assert unknown.headers["location"].endswith("notice=no_warehouse")
    bad_line = _post(
        client, f"/admin/orders/{world.held_order_id}/allocation", {"warehouse": "SH", "line": "x"}
    )
    assert bad_line.status_code == 400
    assert changed_tables(before, snapshot(database)) == set()
    set_stock(database, "SH", "TEA-1", 10, SYSTEM)
    for action in (OrderAction.START_PICKING, OrderAction.PACK):
        apply_action(database, world.held_order_id, action, SYSTEM)
    before = snapshot(database)
    packed = _post(client, f"/admin/orders/{world.held_order_id}/allocation", {"warehouse": "SH"})
    assert packed.headers["location"].endswith("notice=allocation_locked")
    assert changed_tables(before, snapshot(database)) == set()


def test_support_may_see_the_allocation_but_not_move_it_or_accept_a_transfer(client, database):
    world = build_world(database)
    staff_login(client, database, Role.SUPPORT)
    page = client.get(f"/admin/orders/{world.short_order_id}")
    assert "SH → HZ" in page.text and "接受调拨" not in page.text
    assert 'name="warehouse"' not in page.text
    before = snapshot(database)
    moved = _post(client, f"/admin/orders/{world.held_order_id}/allocation", {"warehouse": "SH"})
    accepted = _post(
        client,
        f"/admin/orders/{world.short_order_id}/transfers/{world.transfer_id}",
        {"verdict": "accept"},
    )
    assert (moved.status_code, accepted.status_code) == (403, 403)
    assert changed_tables(before, snapshot(database)) == set()


def test_accepting_a_transfer_moves_the_units_reserves_the_order_and_releases_its_hold(
    client, database
):
    world = build_world(database)
    staff_login(client, database, Role.WAREHOUSE, name="仓库小张")
    page = client.get(f"/admin/orders/{world.short_order_id}")
    assert "库存不足" in page.text and "接受调拨" in page.text
    path = f"/admin/orders/{world.short_order_id}/transfers/{world.transfer_id}"
    accepted = _post(client, path, {"verdict": "accept"})
    assert accepted.headers["location"].endswith("notice=transfer_accepted")
    stock = stock_rows(database)
    assert stock[("SH", "TEA-2")] == (1, 0) and stock[("HZ", "TEA-2")] == (3, 3)
    assert placements(database)[world.short_order_id] == {("TEA-2", "HZ")}
    with database.read() as session:
        order = session.get(Order, world.short_order_id)
        proposal = session.get(TransferProposal, world.transfer_id)
    assert order.hold_reason is None
    assert (proposal.status, proposal.decided_by) == ("accepted", "仓库小张")
    ((actor, order_id, after),) = _audit(database, "transfer.accepted")
    assert (actor, order_id, after["quantity"], after["hold_released"]) == (
        "仓库小张",
        world.short_order_id,
        1,
        True,
    )
    again = _post(client, path, {"verdict": "accept"})
    assert again.headers["location"].endswith("notice=transfer_impossible")
    assert stock_rows(database) == stock


def test_a_transfer_whose_source_sold_the_units_meanwhile_is_refused_and_the_order_stays_held(
    client, database
):
    world = build_world(database)
    set_stock(database, "SH", "TEA-2", 0, SYSTEM)
    staff_login(client, database, Role.WAREHOUSE)
    before = snapshot(database)
    path = f"/admin/orders/{world.short_order_id}/transfers/{world.transfer_id}"
    refused = _post(client, path, {"verdict": "accept"})
    assert refused.headers["location"].endswith("notice=transfer_impossible")
    assert changed_tables(before, snapshot(database)) == set()
    with database.read() as session:
        assert session.get(Order, world.short_order_id).hold_reason == HoldReason.OUT_OF_STOCK


def test_the_sku_page_shows_stock_per_warehouse_and_saves_a_warehouse(client, database):
    build_world(database)
    staff_login(client, database, Role.WAREHOUSE, name="仓库小张")
    page = client.get("/admin/skus")
    assert re.search(r'data-warehouse="HZ">HZ 50/1<', page.text)
    assert re.search(r'data-warehouse="SH">SH 10/0<', page.text)
    saved = _post(
        client,
        "/admin/warehouses",
        {
            "code": "gz",
            "name": "广州仓",
            "province": "广东省",
            "serves": "海南，华中",
            "active": "1",
        },
    )
    assert saved.status_code == 303
    bad = _post(client, "/admin/warehouses", {"code": "x", "name": "x", "serves": "火星"})
    assert bad.status_code == 422
    counted = _post(
        client,
        "/admin/skus",
        {"code": "TEA-1", "name": "西湖龙井 250g", "on_hand": "7", "warehouse": "GZ"},
    )
    assert counted.status_code == 303
    assert stock_rows(database)[("GZ", "TEA-1")] == (7, 0)
    with database.read() as session:
        created = session.scalars(
            select(AuditEvent.after).where(AuditEvent.action == "warehouse.created")
        ).all()
    assert [(a["code"], a["serves"]) for a in created][-1] == ("GZ", ["海南", "华中"])
