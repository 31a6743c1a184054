"""Warehouses set up from the command line, and a database from before warehouses migrated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic import command
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.migrate import alembic_config, upgrade
from backend.orders import inventory
from backend.orders.intake import ingest_channel_order
from backend.orders.models import OrderLine, Reservation, Warehouse
from tests.backend.test_warehouse_stock import CHANNEL, RULES, channel_order, stock_rows
from tests.factories import SYSTEM

PORTAL = Path(sys.executable).with_name("portal")


def portal(database, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PORTAL_DATABASE_URL": database.url,
        "PORTAL_SECRET_KEYS": "cli-test-key-0123456789abcdef",
    }
    return subprocess.run(
        [str(PORTAL), *args], env=environment, capture_output=True, text=True, timeout=60
    )


def test_the_cli_adds_a_warehouse_and_counts_its_stock_with_an_audit_trail(database):
    inventory.save_sku(database, "TEA-1", "龙井", 3, None, SYSTEM)
    added = portal(
        database,
        *("warehouse", "add", "hz", "杭州仓", "--province", "浙江省", "--serves", "江苏,上海"),
        *("--priority", "1", "--contact", "王仓管", "--phone", "057188880000"),
        *("--city", "杭州市", "--district", "余杭区", "--street", "仓前街道1号"),
    )
    assert added.returncode == 0, added.stderr
    counted = portal(database, "warehouse", "stock", "HZ", "tea-1", "12")
    assert counted.returncode == 0 and "(+12)" in counted.stdout, counted.stderr
    assert stock_rows(database) == {("MAIN", "TEA-1"): (3, 0), ("HZ", "TEA-1"): (12, 0)}
    with database.read() as session:
        hz = session.scalars(select(Warehouse).where(Warehouse.code == "HZ")).one()
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_id.like("cli:%"))
        ).all()
    assert (hz.province, hz.serves, hz.priority, hz.street) == (
        "浙江省",
        ["江苏", "上海"],
        1,
        "仓前街道1号",
    )
    assert actions == ["warehouse.created", "stock.counted"]
    listed = portal(database, "warehouse", "list")
    assert "HZ" in listed.stdout and "MAIN" in listed.stdout


def test_the_cli_refuses_bad_warehouse_input_with_a_message_and_writes_nothing(database):
    unknown = portal(database, "warehouse", "add", "X1", "某仓", "--serves", "火星")
    assert unknown.returncode == 1 and "火星" in unknown.stderr
    missing = portal(database, "warehouse", "stock", "NOWHERE", "TEA-1", "5")
    assert missing.returncode == 1 and "not counted" in missing.stderr
    with database.read() as session:
        assert session.scalars(select(Warehouse)).all() == []


def test_stock_and_reservations_from_before_warehouses_move_to_a_default_warehouse(database):
    inventory.save_sku(database, "TEA", "龙井", 5, None, SYSTEM)
    result = ingest_channel_order(
        database, channel_order("1", "浙江省", (("TEA", 2),)), "{}", RULES, CHANNEL
    )
    config = alembic_config(database.url)
    command.downgrade(config, "0015")
    database.dispose()
    upgrade(database.url)
    assert stock_rows(database) == {("MAIN", "TEA"): (5, 2)}
    with database.read() as session:
        main = session.scalars(select(Warehouse)).one()
        reservation = session.scalars(select(Reservation)).one()
        line_id = session.scalars(
            select(OrderLine.id).where(OrderLine.order_id == result.order_id)
        ).one()
    assert (main.code, main.name, main.active) == ("MAIN", "主仓", True)
    assert (reservation.warehouse_id, reservation.order_line_id) == (main.id, line_id)
