"""Rules are made from the settings once: the import page and the worker hold what they say."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from backend.db import Database
from backend.jobs.worker import Worker
from backend.orders.channels import signatures as sig
from backend.orders.inventory import save_sku
from backend.orders.models import HoldReason, Order
from backend.staff.models import Role
from portal.app import create_app
from portal.background import build_handlers
from portal.integrations import build_integrations
from portal.settings import Settings
from tests.backend.orders.channels.recorded import load_payload
from tests.conftest import SHOPIFY_SECRET
from tests.factories import SYSTEM
from tests.portal.helpers import csrf_token, staff_login

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def strict(settings: Settings) -> Settings:
    """A merchant who wants a second look at anything above ¥100."""
    return replace(settings, high_value_order_yuan=100)


def _hold_of(database: Database, channel_order_no: str) -> HoldReason | None:
    with database.read() as session:
        return session.scalars(
            select(Order.hold_reason).where(Order.channel_order_no == channel_order_no)
        ).one()


def test_a_3000_yuan_order_imported_on_the_page_is_held_with_the_threshold_at_100(strict, database):
    save_sku(database, "TEA-1", "龙井", 10, 100_000, SYSTEM)  # in stock, sold above cost
    text = (
        "订单号,收货人,手机,省,市,区,详细地址,商品编码,商品名称,数量,单价(元)\n"
        "PHONE-3000,张三,13800138000,浙江省,杭州市,西湖区,文三路100号,TEA-1,龙井,1,3000.00\n"
    )
    with TestClient(create_app(strict, database)) as client:
        staff_login(client, database, Role.SUPPORT)
        answer = client.post(
            "/admin/import",
            files={"file": ("orders.csv", text.encode(), "text/csv")},
            headers={"X-CSRF-Token": csrf_token(client, "/admin/import")},
        )
    assert answer.status_code == 200
    assert _hold_of(database, "PHONE-3000") == HoldReason.HIGH_VALUE


def test_a_3000_yuan_webhook_delivery_ingested_by_the_worker_is_held_too(strict, database):
    save_sku(database, "TS-01", "T恤", 10, 1_000, SYSTEM)
    payload = load_payload("shopify", "normal")
    payload["total_price"] = payload["subtotal_price"] = "3000.00"
    payload["line_items"][0]["price"] = "3000.00"
    body = json.dumps(payload, ensure_ascii=False).encode()
    with TestClient(create_app(strict, database)) as client:
        accepted = client.post(
            "/webhooks/shopify",
            content=body,
            headers={
                "X-Shopify-Hmac-Sha256": sig.build_shopify_hmac(body, SHOPIFY_SECRET),
                "X-Shopify-Event-Id": "evt-3000",
                "Content-Type": "application/json",
            },
        )
    assert accepted.json() == {"ok": True, "accepted": True}
    integrations = build_integrations(strict)
    try:
        Worker(database, build_handlers(strict, integrations)).run_until_idle()
    finally:
        integrations.close()
    assert _hold_of(database, str(payload["id"])) == HoldReason.HIGH_VALUE


def test_the_app_and_its_worker_share_the_one_rule_set_built_from_the_settings(strict, database):
    assert strict.rules is strict.rules
    assert strict.rules.intake.high_value_fen == 10_000
    assert create_app(strict, database).state.settings.rules is strict.rules


RULE_DEFAULTS = re.compile(r"\b(IntakeRules|RefundRules|AddressRules)\(|DEFAULT_REFUND_RULES")


def test_no_call_site_outside_the_settings_builds_rules_of_its_own():
    built = {
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("backend", "portal")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if RULE_DEFAULTS.search(line)
    }
    in_settings = {place for place in built if place.startswith("portal/settings.py:")}
    assert len(in_settings) == 3  # intake, refunds, addresses: once each, in build_rules
    assert built - in_settings == set()
