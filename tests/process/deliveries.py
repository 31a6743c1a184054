"""Signed Shopify orders/create deliveries, each a different order, posted as Shopify would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.orders.channels.signatures import build_shopify_hmac
from backend.orders.models import ChannelEvent, IntakeOutcome, Order
from tests.backend.orders.channels.recorded import load_payload
from tests.conftest import SHOPIFY_SECRET


@dataclass(frozen=True)
class Delivery:
    event_id: str
    body: bytes


def build_deliveries(count: int, first: int = 0) -> list[Delivery]:
    """`count` distinct orders (own id, number, buyer phone), placed over the last minutes."""
    recorded: dict[str, Any] = load_payload("shopify", "normal")
    start = utcnow().astimezone(SHANGHAI) - timedelta(seconds=count + 600)
    deliveries = []
    for index in range(first, first + count):
        placed = (start + timedelta(seconds=index)).isoformat(timespec="seconds")
        phone = f"+86139{index:08d}"
        payload = {
            **recorded,
            "id": int(recorded["id"]) + index,
            "name": f"#{100_000 + index}",
            "order_number": 100_000 + index,
            "created_at": placed,
            "processed_at": placed,
            "updated_at": placed,
            "customer": {**recorded["customer"], "phone": phone},
            "shipping_address": {**recorded["shipping_address"], "phone": phone},
        }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        deliveries.append(Delivery(f"evt-{index}", body))
    return deliveries


def post(client: TestClient, delivery: Delivery) -> bool:
    """True when the portal acknowledged (stored) the delivery."""
    response = client.post(
        "/webhooks/shopify",
        content=delivery.body,
        headers={
            "X-Shopify-Hmac-Sha256": build_shopify_hmac(delivery.body, SHOPIFY_SECRET),
            "X-Shopify-Event-Id": delivery.event_id,
            "Content-Type": "application/json",
        },
    )
    return response.status_code == 200 and response.json().get("accepted") is True


def orders_and_duplicates(database: Database) -> tuple[int, int]:
    """(orders, deliveries ingested as a repeat of one already taken)."""
    with database.read() as session:
        orders = session.scalar(select(func.count()).select_from(Order)) or 0
        duplicates = session.scalar(
            select(func.count())
            .select_from(ChannelEvent)
            .where(ChannelEvent.outcome == IntakeOutcome.DUPLICATE_DELIVERY)
        )
    return orders, duplicates or 0
