"""Staff order search: one box that finds an order by any number or name staff are given."""

from __future__ import annotations

from sqlalchemy import or_, select

from backend.db import Database
from backend.logistics.models import Shipment
from backend.orders.models import AddressVersion, Customer, Order
from backend.orders.queries import SEARCH_LIMIT, OrderSummary, summary_select, to_summary


def search_orders(database: Database, query: str, status: str | None = None) -> list[OrderSummary]:
    """Staff search: order or channel number, waybill, phone (or its last four), name."""
    statement = summary_select().join(Customer, Customer.id == Order.customer_id)
    query = query.strip()[:64]
    if query:
        waybill = select(Shipment.order_id).where(Shipment.tracking_no == query)
        statement = statement.where(
            or_(
                Order.public_no == query,
                Order.channel_order_no == query,
                Order.id.in_(waybill),
                # autoescape: a typed % or _ (or the escape character) matches only itself.
                Customer.phone.contains(query, autoescape=True),
                AddressVersion.phone.contains(query, autoescape=True),
                Customer.name == query,
                AddressVersion.recipient_name == query,
            )
        )
    if status:
        statement = statement.where(Order.status == status)
    statement = statement.order_by(Order.placed_at.desc()).limit(SEARCH_LIMIT)
    with database.read() as session:
        return [to_summary(row, masked=False) for row in session.execute(statement)]
