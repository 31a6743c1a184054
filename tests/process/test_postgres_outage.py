"""PostgreSQL refuses connections for a few seconds: 503s, one log line, recovery on its own."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx

from backend.jobs.models import Job
from backend.logistics import tracking_jobs
from backend.orders.access import issue_short_link
from backend.orders.lifecycle import OrderStatus
from tests.backend.logistics.live_servers import payload
from tests.factories import SYSTEM, create_shipment, make_order
from tests.portal.test_webhooks import signed
from tests.process.served import portal_serve

OUTAGE_SECONDS = 3.0
UNAVAILABLE_PAGE_TEXT = "服务暂时不可用"


def stored_pushes(database, raw: str) -> int:
    with database.read() as session:
        rows = session.query(Job).filter(Job.kind == tracking_jobs.PUSH).all()
        return sum(1 for job in rows if job.payload.get("raw") == raw)


def assert_refused(page: httpx.Response, push: httpx.Response, health: httpx.Response) -> None:
    assert page.status_code == 503
    assert UNAVAILABLE_PAGE_TEXT in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert push.status_code == 503
    assert push.json()["result"] is False
    assert health.status_code == 503
    for response in (page, push, health):
        assert int(response.headers["Retry-After"]) > 0


def test_while_postgresql_refuses_connections_pages_and_pushes_answer_503_then_recover(
    postgres_database, postgres_proxy, tmp_path
):
    proxy, url = postgres_proxy
    order = make_order(postgres_database, status=OrderStatus.PACKED)
    create_shipment(postgres_database, order.id, "zhongtong", "ZT7500000000001", SYSTEM)
    code = issue_short_link(postgres_database, order.id, SYSTEM, timedelta(days=1))
    push = signed(payload("kuaidi100_push_signed.json"))
    with (
        portal_serve(url, tmp_path, "--no-worker") as portal,
        httpx.Client(base_url=portal.url, timeout=30) as client,
    ):
        tracking = client.get(f"/t/{code}", follow_redirects=False).headers["location"]
        assert client.get(tracking).status_code == 200
        assert client.get("/healthz").status_code == 200

        proxy.refuse()
        answers = 0
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < outage_ends or answers < 3:
            page = client.get(tracking)
            refused_push = client.post("/webhooks/kuaidi100", data=push)
            health = client.get("/healthz")
            assert_refused(page, refused_push, health)
            answers += 1
        assert stored_pushes(postgres_database, push["param"]) == 0
        proxy.listen()

        assert client.get(tracking).status_code == 200
        accepted = client.post("/webhooks/kuaidi100", data=push)
        assert accepted.status_code == 200
        assert accepted.json()["result"] is True
        assert client.get("/healthz").status_code == 200
    assert stored_pushes(postgres_database, push["param"]) == 1
    log = portal.log_text()
    assert log.count("database unavailable") == 1
    assert re.search(r"\[warning *\] database unavailable", log), log
    assert re.search(r"\[info *\] database available again", log), log
    assert "Traceback" not in log
