"""The operations page (figures) over a year of orders at the demo's scale × 100.

The demo seeds about a week of orders; a year of them at a hundred times that pace is
the merchant the issue names. They are written with bulk inserts (each a paid, shipped
and delivered order with one or two lines and an address, spread over 365 days), then
the page is rendered in-process, as staff open it, for the default week and for the
whole year: its time against /ping's in the same run, and its SQL statements, which
must stay within the budget tests/portal/test_operations_figures.py asserts.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta

from sqlalchemy import event, func, insert, select, text, update
from starlette.testclient import TestClient

from backend.clock import shanghai_date, utcnow
from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import AddressVersion, Customer, Order, OrderLine, SalesChannel
from backend.personal_data import last4, phone_index
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from bench import BENCH_ACTOR, BENCH_SECRET, list_backends, row, scratch_directory, seed_demo
from portal.app import create_app
from portal.settings import Settings

SCALE = 100
DAYS = 365
CUSTOMERS = 5_000
BATCH = 5_000
ROUNDS = 5
PROVINCES = ("浙江省", "上海市", "江苏省", "广东省", "北京市", "四川省", "山东省", "福建省")
CHANNELS = (SalesChannel.TAOBAO, SalesChannel.JD, SalesChannel.PINDUODUO, SalesChannel.DOUYIN)
PASSWORD = "bench-operations-2026"  # noqa: S105 - a throwaway login in a scratch database


def _demo_pace(database: Database) -> float:
    with database.read() as session:
        count, first, last = session.execute(
            select(func.count(Order.id), func.min(Order.placed_at), func.max(Order.placed_at))
        ).one()
    span_days = max((last - first).total_seconds() / 86_400, 1.0) if first else 1.0
    return count / span_days


def _seed_year(database: Database, per_day: int) -> int:
    rng = random.Random(2026)
    now = utcnow()
    with database.read() as session:
        skus = [
            (sku, name, price)
            for sku, name, price in session.execute(
                select(OrderLine.sku, OrderLine.name, OrderLine.unit_price_fen).distinct()
            ).all()
        ]
        first_id = int(session.scalar(select(func.max(Order.id))) or 0) + 1
        first_customer = int(session.scalar(select(func.max(Customer.id))) or 0) + 1
        first_address = int(session.scalar(select(func.max(AddressVersion.id))) or 0) + 1
    phones = [f"139{n:08d}" for n in range(CUSTOMERS)]
    with database.write() as session:
        session.execute(
            insert(Customer),
            [
                {
                    "id": first_customer + n,
                    "name": f"客户{n}",
                    "phone": phone,
                    "phone_index": phone_index(phone),
                    "phone_last4": last4(phone),
                    "created_at": now - timedelta(days=DAYS),
                }
                for n, phone in enumerate(phones)
            ],
        )
    total = per_day * DAYS
    for start in range(0, total, BATCH):
        orders, addresses, lines = [], [], []
        for n in range(start, min(start + BATCH, total)):
            order_id, address_id = first_id + n, first_address + n
            placed = now - timedelta(days=DAYS) + timedelta(seconds=n * 86_400 / per_day)
            paid = placed + timedelta(minutes=rng.randint(1, 30))
            shipped = paid + timedelta(hours=rng.uniform(1, 40))
            delivered = shipped + timedelta(hours=rng.uniform(20, 120))
            chosen = rng.sample(skus, k=min(len(skus), rng.choice((1, 1, 2))))
            amount = sum(price for _sku, _name, price in chosen)
            customer = rng.randrange(CUSTOMERS)
            orders.append(
                {
                    "id": order_id,
                    "public_no": f"B{order_id:013d}",
                    "channel": rng.choice(CHANNELS),
                    "channel_order_no": f"BENCH-{order_id}",
                    "customer_id": first_customer + customer,
                    "status": OrderStatus.COMPLETED if delivered < now else OrderStatus.SHIPPED,
                    "status_changed_at": min(delivered, now),
                    "total_fen": amount,
                    "paid_fen": amount,
                    "placed_at": placed,
                    "paid_at": paid,
                    "packed_at": shipped,
                    "shipped_at": shipped,
                    "delivered_at": delivered if delivered < now else None,
                    "address_locked_at": shipped,
                    "created_at": placed,
                    "updated_at": min(delivered, now),
                }
            )
            addresses.append(
                {
                    "id": address_id,
                    "order_id": order_id,
                    "version": 1,
                    "recipient_name": f"客户{customer}",
                    "phone": phones[customer],
                    "phone_index": phone_index(phones[customer]),
                    "phone_last4": last4(phones[customer]),
                    "province": rng.choice(PROVINCES),
                    "city": "某市",
                    "district": "某区",
                    "street": f"某路{n % 999}号",
                    "created_by": "bench",
                    "created_at": placed,
                }
            )
            lines += [
                {
                    "order_id": order_id,
                    "sku": sku,
                    "name": name,
                    "quantity": 1,
                    "unit_price_fen": price,
                }
                for sku, name, price in chosen
            ]
        with database.write() as session:
            session.execute(insert(Order), orders)
            session.execute(insert(AddressVersion), addresses)
            session.execute(insert(OrderLine), lines)
            session.execute(
                update(Order)
                .where(Order.id >= orders[0]["id"], Order.id <= orders[-1]["id"])
                .values(current_address_id=Order.id - first_id + first_address)
            )
    if database.engine.dialect.name == "postgresql":
        with database.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return total


def _timed(client: TestClient, path: str) -> float:
    """Median milliseconds over ROUNDS answers, after one to warm the caches."""
    client.get(path)
    seconds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        answer = client.get(path)
        seconds.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text[-500:]
    return float(statistics.median(seconds) * 1000)


def _statements(database: Database, client: TestClient, path: str) -> int:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SET", "SAVEPOINT")):
            seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        client.get(path)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    return len(seen)


def run() -> list[str]:
    print(f"== operations page: a year of orders at the demo's scale × {SCALE} ==")
    rows: list[str] = []
    with scratch_directory() as directory:
        for backend in list_backends(directory):
            database = seed_demo(backend)
            try:
                per_day = max(round(_demo_pace(database) * SCALE), 1)
                started = time.monotonic()
                orders = _seed_year(database, per_day)
                print(
                    f"  {backend.label}: {orders} orders ({per_day}/day × {DAYS} days) seeded "
                    f"in {time.monotonic() - started:.0f} s"
                )
                settings = Settings(
                    database_url=backend.url,
                    secret_keys=(BENCH_SECRET,),
                    embedded_worker=False,
                    staff_second_factor_required=False,
                    rules_refresh_seconds=3600,
                )
                add_staff(database, "bench-supervisor", Role.SUPERVISOR, PASSWORD, BENCH_ACTOR)
                with TestClient(create_app(settings, database)) as client:
                    login = client.get("/admin/login").text
                    token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                    client.post(
                        "/admin/login",
                        data={
                            "name": "bench-supervisor",
                            "password": PASSWORD,
                            "csrf_token": token,
                        },
                    )
                    today = shanghai_date(utcnow())
                    year = f"/admin/operations?from={today - timedelta(days=DAYS - 1)}&to={today}"
                    ping = _timed(client, "/ping")
                    for case, path in (("last 7 days", "/admin/operations"), ("a year", year)):
                        millis = _timed(client, path)
                        statements = _statements(database, client, path)
                        print(
                            f"  {backend.label} {case}: {millis:.0f} ms median "
                            f"({millis / ping:.0f} × /ping's {ping:.1f} ms), "
                            f"{statements} statements"
                        )
                        rows.append(
                            row(
                                "operations page",
                                f"{backend.label}, {case}",
                                f"{millis:.0f} ms = {millis / ping:.0f} × /ping; "
                                f"{statements} statements",
                                f"{orders} orders over a year (demo × {SCALE})",
                            )
                        )
            finally:
                database.dispose()
    return rows
