"""A shirt sold in sizes and colours, and a delivered order of it: the exchange tests' world."""

from __future__ import annotations

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders import inventory
from backend.orders.inventory import SkuVariant
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.orders.service import NewLine
from tests.factories import SYSTEM, line_ids, make_order

SHIRT = "TEE-CLASSIC"
# code, label, stock, list price (None: what the customer paid)
VARIANTS = [
    ("TEE-M-WHITE", "M / 白色", 5, 9_900),
    ("TEE-L-WHITE", "L / 白色", 3, None),
    ("TEE-L-BLACK", "L / 黑色", 0, 9_900),  # sold out
    ("TEE-S-GREY", "S / 灰色", 2, 7_900),  # cheaper: 20 yuan back
    ("TEE-XL-RED", "XL / 红色", 2, 12_900),  # dearer: refused
]


def seed_shirts(database: Database) -> dict[str, int]:
    ids = {
        code: inventory.save_sku(
            database,
            code,
            "经典圆领T恤",
            on_hand,
            None,
            SYSTEM,
            variant=SkuVariant(SHIRT, label, price),
        )
        for code, label, on_hand, price in VARIANTS
    }
    ids["TEA-1"] = inventory.save_sku(database, "TEA-1", "西湖龙井 250g", 10, None, SYSTEM)
    return ids


def delivered_shirt_order(
    database: Database, phone: str = "13800138000", status: OrderStatus = OrderStatus.DELIVERED
) -> tuple[Order, int]:
    """A delivered order of one white M shirt (99 yuan) and a tea; returns (order, shirt line)."""
    order = make_order(
        database,
        status=status,
        phone=phone,
        lines=[
            NewLine("TEE-M-WHITE", "经典圆领T恤 M / 白色", 1, 9_900),
            NewLine("TEA-1", "西湖龙井 250g", 1, 12_800),
        ],
    )
    return order, line_ids(database, order.id)["TEE-M-WHITE"]


def customer_of(order: Order) -> Actor:
    return Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="portal")
