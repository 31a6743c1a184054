"""The demo has something to exchange: a delivered order of a product sold in variants."""

from sqlalchemy import select

from backend.demo import seed_orders
from backend.exchanges.views import get_exchange_form
from backend.orders.intake import IntakeRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.refunds.rules import RefundRules


def test_the_demo_has_a_delivered_order_with_a_variant_to_exchange_for(database):
    seed_orders(database, rules=IntakeRules())
    with database.read() as session:
        delivered = session.scalars(
            select(Order.id).where(Order.status == OrderStatus.DELIVERED)
        ).all()
    forms = [get_exchange_form(database, order_id, RefundRules()) for order_id in delivered]
    choosable = [
        variant.label
        for form in forms
        for line in form.lines
        for variant in line.variants
        if variant.choosable
    ]
    assert choosable, "no delivered demo order has an in-stock variant to exchange for"
