"""/metrics: behind its token, routes by template, pushes by source, the database's figures."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from backend import jobs
from backend.breaker import BreakerChange, BreakerState
from backend.breaker_states import StateWrite, write_state
from backend.clock import utcnow
from backend.jobs.queue import GiveUp
from backend.jobs.worker import Worker
from backend.orders.access import issue_short_link
from backend.orders.lifecycle import OrderStatus
from portal.app import create_app
from portal.cli import main
from portal.metrics import WEBHOOK_SOURCES
from tests.conftest import KUAIDI100_SALT
from tests.factories import SYSTEM, create_shipment, make_order

TOKEN = "metrics-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def scraped(settings, database):
    with TestClient(create_app(replace(settings, metrics_token=TOKEN), database)) as client:
        yield client


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(client: TestClient, name: str, **labels: str) -> float:
    return samples(client).get((name, frozenset(labels.items())), 0.0)


def test_metrics_is_not_there_without_a_token_configured(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=BEARER).status_code == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer ", TOKEN]
)
def test_metrics_refuses_a_missing_or_wrong_token(scraped, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = scraped.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "portal_" not in response.text


def test_requests_are_timed_by_route_template_and_the_code_never_appears(scraped):
    scraped.get("/t/SeCrEtCoDe9", follow_redirects=False)
    scraped.get("/no/such/page/SeCrEtPaTh")
    text = scraped.get("/metrics", headers=BEARER).text
    assert "SeCrEtCoDe9" not in text and "SeCrEtPaTh" not in text
    count = value(
        scraped,
        "portal_http_request_duration_seconds_count",
        method="GET",
        route="/t/{code}",
        status="404",
    ) or value(
        scraped,
        "portal_http_request_duration_seconds_count",
        method="GET",
        route="/t/{code}",
        status="303",
    )
    assert count == 1
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert value(scraped, "portal_http_request_duration_seconds_count", **unmatched) == 1


def test_a_refused_push_counts_as_rejected_and_a_signed_one_as_accepted(scraped):
    from tests.backend.logistics.live_servers import payload

    param = payload("kuaidi100_push_signed.json")
    good = hashlib.md5((param + KUAIDI100_SALT).encode()).hexdigest().upper()  # noqa: S324
    rejected = {"source": "kuaidi100", "outcome": "rejected"}
    accepted = {"source": "kuaidi100", "outcome": "accepted"}
    assert (
        scraped.post("/webhooks/kuaidi100", data={"param": param, "sign": "0" * 32}).status_code
        == 403
    )
    assert (
        scraped.post("/webhooks/kuaidi100", data={"param": param, "sign": good}).status_code == 200
    )
    assert scraped.post("/webhooks/sf/wrong-token", content=b"{}").status_code == 404
    assert value(scraped, "portal_webhook_deliveries_total", **rejected) == 1
    assert value(scraped, "portal_webhook_deliveries_total", **accepted) == 1
    assert value(scraped, "portal_webhook_deliveries_total", source="sf", outcome="rejected") == 1


def test_every_push_endpoint_is_counted_under_a_source(scraped):
    (webhooks,) = [r for r in scraped.app.routes if isinstance(r, Mount) and r.path == "/webhooks"]
    posts = {
        r.name for r in webhooks.routes if isinstance(r, Route) and "POST" in (r.methods or ())
    }
    assert posts and posts <= set(WEBHOOK_SOURCES)


def test_dead_jobs_and_the_backlog_are_counted_by_kind(scraped, database):
    def give_up(_database, _payload):
        raise GiveUp("never")

    with database.write() as session:
        jobs.enqueue(session, "tests.doomed")
    assert value(scraped, "portal_jobs_dead", kind="tests.doomed") == 0
    assert value(scraped, "portal_jobs_due", kind="tests.doomed") == 1
    assert Worker(database, {"tests.doomed": give_up}).run_one()
    with database.write() as session:
        jobs.enqueue(session, "tests.waiting", run_at=utcnow() - timedelta(minutes=5))
        jobs.enqueue(session, "tests.later", run_at=utcnow() + timedelta(hours=1))
    figures = samples(scraped)
    assert figures[("portal_jobs_dead", frozenset({("kind", "tests.doomed")}))] == 1
    assert figures[("portal_jobs_due", frozenset({("kind", "tests.doomed")}))] == 0
    assert figures[("portal_jobs_scheduled", frozenset({("kind", "tests.later")}))] == 1
    waited = figures[("portal_jobs_oldest_due_age_seconds", frozenset({("kind", "tests.waiting")}))]
    assert 290 < waited < 3600


def test_an_open_breaker_shows_as_open(scraped, database):
    change = BreakerChange("sf", BreakerState.OPEN, 5)
    write_state(database, StateWrite(change, "elsewhere:1", utcnow()))
    figures = samples(scraped)
    for state, expected in (("open", 1), ("closed", 0), ("half_open", 0)):
        key = ("portal_breaker_state", frozenset({("provider", "sf"), ("state", state)}))
        assert figures[key] == expected
    assert figures[("portal_breaker_stale", frozenset({("provider", "sf")}))] == 0


def test_the_database_figures_say_so_when_the_database_cannot_be_read(settings, tmp_path):
    from backend.db import Database

    unreachable = Database(f"sqlite:///{tmp_path}/missing/dir/portal.db")
    app = create_app(replace(settings, metrics_token=TOKEN), unreachable)
    with TestClient(app) as client:
        assert value(client, "portal_database_figures_up") == 0
    unreachable.dispose()


def test_page_cache_hits_and_misses_are_counted(scraped, database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    code = issue_short_link(database, order.id, SYSTEM, timedelta(days=1))
    page = scraped.get(f"/t/{code}").url.path  # the link signs the browser in
    misses = value(scraped, "portal_page_cache_lookups_total", result="miss")
    hits = value(scraped, "portal_page_cache_lookups_total", result="hit")
    assert scraped.get(page).status_code == 200
    assert value(scraped, "portal_page_cache_lookups_total", result="hit") == hits + 1
    assert value(scraped, "portal_page_cache_lookups_total", result="miss") == misses


def test_unsent_messages_are_the_outbox_backlog(scraped, database):
    assert value(scraped, "portal_outbox_pending", channel="sms") == 0
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "sandbox", "SB7700000001", SYSTEM)
    assert value(scraped, "portal_outbox_pending", channel="sms") == 1


def test_a_made_up_method_is_counted_as_other(scraped):
    scraped.request("BREW", "/ping")  # refused before routing (CSRF): no route either
    labels = {"method": "other", "route": "<unmatched>", "status": "403"}
    assert value(scraped, "portal_http_request_duration_seconds_count", **labels) == 1
    assert "BREW" not in scraped.get("/metrics", headers=BEARER).text


def test_a_multiprocess_directory_that_is_not_one_stops_the_start(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("PORTAL_SECRET_KEYS", "k" * 32)
    assert main(["migrate"]) == 2
    assert capsys.readouterr().err.strip().endswith("missing is not a directory")
