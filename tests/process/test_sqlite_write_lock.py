"""Another process holds SQLite's write lock: the portal answers 503 at once and loses nothing."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import func, select

from backend.jobs.models import Job
from backend.logistics import tracking_jobs
from backend.orders.access import LookupAttempt
from backend.orders.lifecycle import OrderStatus
from tests.backend.logistics.live_servers import payload
from tests.factories import SYSTEM, create_shipment, make_order
from tests.portal.test_webhooks import signed
from tests.process.served import portal_serve

HEALTH_BOUND_SECONDS = 2.0
# Brief: about 5 s for a webhook; the extra second is for a busy machine.
WRITE_BOUND_SECONDS = 6.0
BUSY_PAGE_TEXT = "服务暂时不可用"
CONCURRENT_PUSHES = 4


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """What a backup or a `sqlite3` shell in a transaction does to everyone else."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def stored_pushes(database, raw: str) -> int:
    with database.read() as session:
        rows = session.query(Job).filter(Job.kind == tracking_jobs.PUSH).all()
        return sum(1 for job in rows if job.payload.get("raw") == raw)


def timed(call, *args, **kwargs) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call(*args, timeout=15, **kwargs)
    return response, time.monotonic() - started


def test_under_another_process_write_lock_health_and_a_push_answer_503_and_the_retry_is_stored(
    sqlite_file, tmp_path
):
    path, database = sqlite_file
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "zhongtong", "ZT7500000000001", SYSTEM)
    push = signed(payload("kuaidi100_push_signed.json"))
    with portal_serve(f"sqlite:///{path}", tmp_path) as portal:
        assert httpx.get(f"{portal.url}/healthz", timeout=30).status_code == 200
        with write_lock_held(path), ThreadPoolExecutor(CONCURRENT_PUSHES) as pool:
            health, health_seconds = timed(httpx.get, f"{portal.url}/healthz")
            # Several at once: one waits on the lock, the others in the writer's queue.
            refusals = list(
                pool.map(
                    lambda _: timed(httpx.post, f"{portal.url}/webhooks/kuaidi100", data=push),
                    range(CONCURRENT_PUSHES),
                )
            )
            assert stored_pushes(database, push["param"]) == 0
        assert health.status_code == 503
        assert health_seconds < HEALTH_BOUND_SECONDS
        assert health.json()["status"] == "degraded"
        assert int(health.headers["Retry-After"]) > 0
        for refused, push_seconds in refusals:
            assert refused.status_code == 503
            assert push_seconds < WRITE_BOUND_SECONDS
            assert refused.json()["result"] is False
            assert int(refused.headers["Retry-After"]) > 0

        assert httpx.get(f"{portal.url}/healthz", timeout=30).status_code == 200
        retried = httpx.post(f"{portal.url}/webhooks/kuaidi100", data=push, timeout=30)
        assert retried.status_code == 200
        assert retried.json()["result"] is True
    assert stored_pushes(database, push["param"]) == 1


def csrf_from(client: httpx.Client, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


def test_while_the_write_lock_is_held_customer_and_staff_posts_get_a_friendly_503_page(
    sqlite_file, tmp_path
):
    path, database = sqlite_file
    with (
        portal_serve(f"sqlite:///{path}", tmp_path, "--no-worker") as portal,
        httpx.Client(base_url=portal.url, timeout=30) as client,
    ):
        lookup_token = csrf_from(client, "/lookup")
        login_token = csrf_from(client, "/admin/login")
        with write_lock_held(path):
            lookup, lookup_seconds = timed(
                client.post,
                "/lookup",
                data={"order_no": "T000001", "phone_last4": "8000", "csrf_token": lookup_token},
            )
            login, login_seconds = timed(
                client.post,
                "/admin/login",
                data={"name": "nobody", "password": "wrong-password", "csrf_token": login_token},
            )
    for response, seconds in ((lookup, lookup_seconds), (login, login_seconds)):
        assert response.status_code == 503
        assert seconds < WRITE_BOUND_SECONDS
        assert BUSY_PAGE_TEXT in response.text
        assert int(response.headers["Retry-After"]) > 0
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(LookupAttempt)) == 0
