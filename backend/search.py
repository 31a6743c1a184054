"""Staff order search: one box that finds an order by any number, name or product staff are given.

Phones are sealed at rest, so a phone is found by its blind index (the whole number) or by
its last four digits together with the buyer's or recipient's name ("8000 张三"): four
digits alone match too many orders to be a search, and would make the box a way to list
customers by the end of their number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, and_, exists, false, or_, select

from backend import warehouse_logins as scope
from backend.db import Database
from backend.logistics.models import Shipment
from backend.orders.masking import mask_phone
from backend.orders.models import AddressVersion, Customer, Order, OrderLine
from backend.orders.queries import SEARCH_LIMIT, OrderSummary, summary_select, to_summary
from backend.personal_data import phone_index
from backend.phones import normalize_mobile

# Paging stops somewhere: 20 pages of 50 is more than anyone reads, and keeps OFFSET cheap.
MAX_PAGE = 20

# "8000 张三" or "张三 8000": four digits and a name, either way round.
_LAST4_AND_NAME = re.compile(r"^(?:(\d{4})\s+(\S.*)|(\S.*?)\s+(\d{4}))$")


def _phone_match(query: str) -> ColumnElement[bool]:
    mobile = normalize_mobile(query)
    if mobile is not None:
        index = phone_index(mobile)
        return or_(Customer.phone_index == index, AddressVersion.phone_index == index)
    match = _LAST4_AND_NAME.match(query)
    if match is None:
        return false()
    digits = match.group(1) or match.group(4)
    name = (match.group(2) or match.group(3)).strip()
    return and_(
        or_(Customer.phone_last4 == digits, AddressVersion.phone_last4 == digits),
        or_(Customer.name == name, AddressVersion.recipient_name == name),
    )


def _product_match(query: str) -> ColumnElement[bool]:
    """A SKU code exactly, or a word of the product's name (龙井 finds 西湖龙井 250g)."""
    return exists().where(
        OrderLine.order_id == Order.id,
        or_(OrderLine.sku == query, OrderLine.name.contains(query, autoescape=True)),
    )


def search_orders(
    database: Database,
    query: str,
    status: str | None = None,
    warehouse_id: int | None = None,
    page: int = 1,
) -> SearchPage:
    """Staff search: order or channel number, waybill, phone, name, product name or SKU.

    Newest first, SEARCH_LIMIT a page; a member confined to a warehouse finds only its
    orders (backend/warehouse_logins.py). One row more than a page is read to know if another
    page follows, so paging costs no count query.
    """
    statement = summary_select().join(Customer, Customer.id == Order.customer_id)
    query = query.strip()[:64]
    if query:
        waybill = select(Shipment.order_id).where(Shipment.tracking_no == query)
        statement = statement.where(
            or_(
                Order.public_no == query,
                Order.channel_order_no == query,
                Order.id.in_(waybill),
                _phone_match(query),
                Customer.name == query,
                AddressVersion.recipient_name == query,
                _product_match(query),
            )
        )
    if status:
        statement = statement.where(Order.status == status)
    statement = scope.restrict(statement, warehouse_id)
    page = min(max(page, 1), MAX_PAGE)
    statement = (
        statement.order_by(Order.placed_at.desc(), Order.id.desc())
        .offset((page - 1) * SEARCH_LIMIT)
        .limit(SEARCH_LIMIT + 1)
    )
    with database.read() as session:
        rows = session.execute(statement).all()
    # Names stay (staff search by them); phones are masked like every staff page.
    found = tuple(
        replace(summary, phone=mask_phone(summary.phone))
        for summary in map(_summary, rows[:SEARCH_LIMIT])
    )
    return SearchPage(found, page, has_more=len(rows) > SEARCH_LIMIT)


@dataclass(frozen=True)
class SearchPage:
    orders: tuple[OrderSummary, ...]
    page: int
    has_more: bool

    def __iter__(self) -> Iterator[OrderSummary]:
        return iter(self.orders)

    def __len__(self) -> int:
        return len(self.orders)


def _summary(row: object) -> OrderSummary:
    return to_summary(row, masked=False)
