"""Which orders a staff member may see: a warehouse login tied to a warehouse sees its own.

A merchant with several warehouses (the seed articles' 分仓) ties each warehouse login to
one warehouse (StaffUser.warehouse_id). That login then sees only the orders allocated
there: an order with units reserved at that warehouse, reserved or already shipped from it
(reservations stay, as COMMITTED, after the parcel leaves). Anything else answers as if it
did not exist (404), so a login can't even learn which order numbers the other warehouse
holds. Other roles, and warehouse logins tied to no warehouse, see every order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, select

from backend import audit
from backend.actors import Actor
from backend.db import Database
from backend.orders.models import Order, Reservation, Warehouse
from backend.staff.accounts import check_may_manage_staff, staff_for_update
from backend.staff.models import Role


def allocated_to(warehouse_id: int) -> ColumnElement[bool]:
    """A predicate on Order: units of the order are (or were) reserved at the warehouse."""
    return exists().where(
        Reservation.order_id == Order.id, Reservation.warehouse_id == warehouse_id
    )


def restrict(statement: Any, warehouse_id: int | None) -> Any:
    """An order query narrowed to what a member confined to `warehouse_id` may see."""
    return statement if warehouse_id is None else statement.where(allocated_to(warehouse_id))


def order_in_scope(database: Database, order_id: int, warehouse_id: int | None) -> bool:
    """True when the order exists and the member may see it; one query, or none."""
    if warehouse_id is None:
        return True
    with database.read() as session:
        found = session.scalar(
            select(Order.id).where(Order.id == order_id, allocated_to(warehouse_id))
        )
    return found is not None


class NotAWarehouseLogin(Exception):
    """Only a warehouse login is tied to a warehouse; other roles see every order."""


class NoSuchWarehouse(LookupError):
    pass


def list_warehouse_codes(database: Database) -> dict[int, str]:
    """Active warehouses, id -> code, for the staff page's select."""
    with database.read() as session:
        rows = session.execute(
            select(Warehouse.id, Warehouse.code)
            .where(Warehouse.active.is_(True))
            .order_by(Warehouse.code)
        ).all()
    return {int(row.id): str(row.code) for row in rows}


def assign_warehouse(database: Database, name: str, code: str | None, actor: Actor) -> bool:
    """Ties a warehouse login to one warehouse (code), or to none (every order) with None.

    In force from the member's next request, like a role change: every staff request reads
    the member's row afresh (accounts.get_staff_session).
    """
    with database.write() as session:
        check_may_manage_staff(actor)
        user = staff_for_update(session, name)
        if Role(user.role) != Role.WAREHOUSE:
            raise NotAWarehouseLogin(name)
        code = (code or "").strip().upper() or None  # codes are kept upper case
        warehouse_id = None
        if code:
            warehouse_id = session.scalar(select(Warehouse.id).where(Warehouse.code == code))
            if warehouse_id is None:
                raise NoSuchWarehouse(code)
        if user.warehouse_id == warehouse_id:
            return False
        before = session.scalar(select(Warehouse.code).where(Warehouse.id == user.warehouse_id))
        user.warehouse_id = warehouse_id
        audit.record(
            session,
            actor,
            "staff.warehouse_changed",
            subject="staff",
            subject_id=user.id,
            before={"warehouse": before},
            after={"warehouse": code or None},
        )
    return True
