"""/metrics of a real `portal serve`: a refused push, a job that gives up and a breaker
that opens each show in the next scrape; no token, no figures. Counters are kept in
PROMETHEUS_MULTIPROC_DIR, as with several workers, or in the process alone."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend import jobs
from backend.logistics.tracking_jobs import PUSH
from backend.orders.lifecycle import OrderStatus
from tests.factories import SYSTEM, create_shipment, make_order
from tests.process.served import portal_serve
from tests.waiting import wait_until

TOKEN = "scrape-token-0123456789"
NOWHERE = "http://127.0.0.1:9"  # nothing listens: every Kuaidi100 call fails at once
BREAKER_THRESHOLD = 5  # backend/breaker.py's default, the one the portal's breakers use


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def figure(url: str, name: str, **labels: str) -> float:
    return scrape(url).get((name, frozenset(labels.items())), 0.0)


@pytest.mark.parametrize("counters", ["multiprocess", "in-process"])
def test_a_served_portal_reports_rejects_dead_jobs_and_open_breakers(database, tmp_path, counters):
    environment = {
        "PORTAL_METRICS_TOKEN": TOKEN,
        "PORTAL_EMBEDDED_WORKER": "1",
        "PORTAL_LOG_FORMAT": "json",
        "PORTAL_KUAIDI100_CUSTOMER": "TESTCUSTOMER",
        "PORTAL_KUAIDI100_KEY": "TESTKEY",
        "PORTAL_KUAIDI100_POLL_URL": NOWHERE,
        "PORTAL_KUAIDI100_API_URL": NOWHERE,
    }
    if counters == "multiprocess":
        (tmp_path / "prometheus").mkdir()
        environment["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prometheus")
    with portal_serve(database.url, tmp_path, environment=environment) as portal:
        assert httpx.get(f"{portal.url}/metrics").status_code == 401
        assert httpx.get(f"{portal.url}/livez").status_code == 200
        assert httpx.get(f"{portal.url}/readyz").status_code == 200

        rejected = {"source": "kuaidi100", "outcome": "rejected"}
        before = figure(portal.url, "portal_webhook_deliveries_total", **rejected)
        refused = httpx.post(
            f"{portal.url}/webhooks/kuaidi100",
            data={"param": "{}", "sign": "0" * 32},
            headers={"X-Request-ID": "refused-push-1"},
        )
        assert refused.status_code == 403
        assert refused.headers["x-request-id"] == "refused-push-1"
        assert figure(portal.url, "portal_webhook_deliveries_total", **rejected) == before + 1

        # A push of a source the handler does not know: it gives up (GiveUp), the job dies.
        assert figure(portal.url, "portal_jobs_dead", kind=PUSH) == 0
        with database.write() as session:
            jobs.enqueue(session, PUSH, {"source": "nowhere", "raw": "{}"})
        wait_until(
            lambda: figure(portal.url, "portal_jobs_dead", kind=PUSH) == 1,
            timeout=60,
            what="the job to die",
        )

        # Parcels to subscribe at a Kuaidi100 that never answers: the breaker opens.
        for number in range(BREAKER_THRESHOLD):
            order = make_order(database, status=OrderStatus.PACKED)
            create_shipment(database, order.id, "zhongtong", f"ZT75000000{number:05}", SYSTEM)
        opened = {"provider": "kuaidi100", "state": "open"}
        wait_until(
            lambda: figure(portal.url, "portal_breaker_state", **opened) == 1,
            timeout=90,
            what="the Kuaidi100 breaker to open",
        )
        assert figure(portal.url, "portal_breaker_state", provider="kuaidi100", state="closed") == 0
        timed = scrape(portal.url)
    if counters == "multiprocess":  # the counters went to the files every worker adds to
        assert list((tmp_path / "prometheus").glob("counter_*.db"))
    routes = {dict(labels).get("route") for (name, labels) in timed if "request" in name}
    assert "/webhooks/kuaidi100" in routes and "/metrics" in routes

    lines = [json.loads(line) for line in portal.log_text().splitlines() if line.startswith("{")]
    (refusal,) = [line for line in lines if line.get("request_id") == "refused-push-1"]
    assert (refusal["logger"], refusal["path"], refusal["status"]) == (
        "uvicorn.access",
        "/webhooks/kuaidi100",
        403,
    )


def test_two_served_processes_count_together_in_the_multiprocess_directory(database, tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    environment = {"PORTAL_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    rejected = {"source": "kuaidi100", "outcome": "rejected"}
    with (
        portal_serve(
            database.url, tmp_path / "first", "--no-worker", environment=environment
        ) as first,
        portal_serve(
            database.url, tmp_path / "second", "--no-worker", environment=environment
        ) as second,
    ):
        for portal, pushes in ((first, 1), (second, 2)):
            for _ in range(pushes):
                refused = httpx.post(
                    f"{portal.url}/webhooks/kuaidi100", data={"param": "{}", "sign": "0" * 32}
                )
                assert refused.status_code == 403
        # Whichever process answers the scrape reports the three refusals of both.
        assert figure(first.url, "portal_webhook_deliveries_total", **rejected) == 3
        assert figure(second.url, "portal_webhook_deliveries_total", **rejected) == 3
