"""The services that move money, stock or orders check the actor themselves, and fail closed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.finance_export import export_month_csv
from backend.fulfilment.waybill_import import import_waybill_file
from backend.logistics.warehouse import confirm_reprint, scan_parcel
from backend.orders import access, holds, inventory, reconciliation, transfers, warehouses
from backend.orders import address_changes as changes
from backend.orders.intake import IntakeRules, import_order_file
from backend.refunds import return_parcels
from backend.refunds.lifecycle import ReturnTransitionNotAllowed
from backend.refunds.service import ReturnNotFound, review_return
from backend.staff.models import Role
from backend.staff.permissions import ROLE_PERMISSIONS, Permission, PermissionDenied
from tests.staff_world import (
    CUSTOMER_ACTOR,
    IMPORT_CSV,
    World,
    build_world,
    snapshot,
    waybill_csv,
)

P = Permission
EXPORT = "订单号,状态,实付金额\nX1,已付款,1.00\n"
Service = Callable[[Database, World, Actor], object]

SERVICES: dict[str, tuple[Permission, Service]] = {
    "save_sku": (
        P.MANAGE_SKUS,
        lambda db, w, a: inventory.save_sku(db, w.sku_code, "龙井", 49, None, a),
    ),
    "save_sku with a new cost": (
        P.VIEW_COSTS,
        lambda db, w, a: inventory.save_sku(db, w.sku_code, "龙井", 50, 100, a),
    ),
    "map_channel_sku": (
        P.MANAGE_SKUS,
        lambda db, w, a: inventory.map_channel_sku(db, "taobao", "36081", w.sku_code, a),
    ),
    "save_warehouse": (
        P.MANAGE_SKUS,
        lambda db, w, a: warehouses.save_warehouse(
            db, warehouses.WarehouseFields("GZ", "广州仓"), a
        ),
    ),
    "set_stock": (
        P.MANAGE_SKUS,
        lambda db, w, a: warehouses.set_stock(db, "SH", w.sku_code, 9, a),
    ),
    "reallocate": (
        P.ALLOCATE_STOCK,
        lambda db, w, a: warehouses.reallocate(db, w.held_order_id, "SH", a),
    ),
    "accept_transfer": (
        P.ALLOCATE_STOCK,
        lambda db, w, a: transfers.accept_transfer(
            db, w.short_order_id, w.transfer_id, a, IntakeRules().lead_times
        ),
    ),
    "reject_transfer": (
        P.ALLOCATE_STOCK,
        lambda db, w, a: transfers.reject_transfer(db, w.short_order_id, w.transfer_id, a),
    ),
    "import_order_file": (
        P.IMPORT_ORDERS,
        lambda db, w, a: import_order_file(db, "orders.csv", IMPORT_CSV, IntakeRules(), a),
    ),
    "import_waybill_file": (
        P.RECORD_WAYBILLS,
        lambda db, w, a: import_waybill_file(db, "w.csv", waybill_csv(w), a),
    ),
    "reconcile_export": (
        P.RECONCILE_CHANNELS,
        lambda db, w, a: reconciliation.reconcile_export(db, "taobao", date.today(), EXPORT, a),
    ),
    "approve_hold": (P.RELEASE_HOLDS, lambda db, w, a: holds.approve_hold(db, w.held_order_id, a)),
    "review_return": (
        P.REVIEW_REFUNDS,
        lambda db, w, a: review_return(db, w.return_id, True, a),
    ),
    "receive_return": (
        P.SCAN_PARCELS,
        lambda db, w, a: return_parcels.receive_return(db, w.return_id, a),
    ),
    "record_inspection": (
        P.SCAN_PARCELS,
        lambda db, w, a: return_parcels.record_inspection(db, w.return_id, True, "", a),
    ),
    "decide_request": (
        P.REVIEW_ADDRESSES,
        lambda db, w, a: changes.decide_request(db, w.change_id, True, a, changes.AddressRules()),
    ),
    "issue_short_link": (
        P.MANAGE_LINKS,
        lambda db, w, a: access.issue_short_link(db, w.paid_order_id, a, timedelta(days=1)),
    ),
    "revoke_links": (P.MANAGE_LINKS, lambda db, w, a: access.revoke_links(db, w.paid_order_id, a)),
    "export_month_csv": (P.EXPORT_FINANCE, lambda db, w, a: export_month_csv(db, 2026, 11, a)),
    "scan_parcel": (P.SCAN_PARCELS, lambda db, w, a: scan_parcel(db, w.paid_public_no, a)),
    "confirm_reprint": (
        P.SCAN_PARCELS,
        lambda db, w, a: confirm_reprint(db, w.shipment_id, a),
    ),
}


def staff(role: Role | None) -> Actor:
    return Actor(ActorKind.STAFF, f"{role or 'nobody'}-user", ip="10.0.0.9", role=role)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_a_service_refuses_every_role_without_its_permission_and_changes_nothing(database, name):
    permission, call = SERVICES[name]
    world = build_world(database)
    before = snapshot(database)
    refused = []
    for role in Role:
        if permission in ROLE_PERMISSIONS[role]:
            continue
        with pytest.raises(PermissionDenied):
            call(database, world, staff(role))
        refused.append(role)
    assert refused
    assert snapshot(database) == before


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_a_staff_actor_without_a_role_and_a_customer_are_refused(database, name):
    _, call = SERVICES[name]
    world = build_world(database)
    before = snapshot(database)
    for actor in (staff(None), Actor(ActorKind.STAFF, "小王"), CUSTOMER_ACTOR):
        with pytest.raises(PermissionDenied):
            call(database, world, actor)
    assert snapshot(database) == before


# The world's return is still in review: its parcel can't be signed in or inspected yet.
REFUSED_BY_THE_DOMAIN = {
    "receive_return": ReturnTransitionNotAllowed,
    "record_inspection": ReturnNotFound,
}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_a_role_with_the_permission_gets_past_the_check(database, name):
    permission, call = SERVICES[name]
    world = build_world(database)
    role = next(
        role for role in Role if permission in ROLE_PERMISSIONS[role] and role != Role.ADMIN
    )
    if name in REFUSED_BY_THE_DOMAIN:
        with pytest.raises(REFUSED_BY_THE_DOMAIN[name]):
            call(database, world, staff(role))
    else:
        call(database, world, staff(role))
