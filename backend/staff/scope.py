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

from backend.db import Database
from backend.orders.models import Order, Reservation, Warehouse
from backend.staff.models import Role


def scoped_warehouse(role: Role | None, warehouse_id: int | None) -> int | None:
    """The warehouse this member is confined to, or None for every order."""
    return warehouse_id if role == Role.WAREHOUSE else None


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


def warehouse_id_by_code(database: Database, code: str) -> int | None:
    with database.read() as session:
        found: int | None = session.scalar(select(Warehouse.id).where(Warehouse.code == code))
    return found
