"""X-Request-ID: echoed or made, kept with the jobs a request enqueues, set while they run."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select

from backend import jobs
from backend.jobs.models import Job
from backend.jobs.worker import Worker
from backend.request_context import current_request_id, request_id_bound
from tests.backend.logistics.live_servers import payload
from tests.conftest import KUAIDI100_SALT


def signed_push() -> dict[str, str]:
    param = payload("kuaidi100_push_signed.json")
    sign = hashlib.md5((param + KUAIDI100_SALT).encode()).hexdigest()  # noqa: S324
    return {"param": param, "sign": sign.upper()}


def request_ids_of_jobs(database) -> list[str | None]:
    with database.read() as session:
        return list(session.scalars(select(Job.request_id).order_by(Job.id)))


def test_a_given_request_id_is_echoed_back(client):
    response = client.get("/ping", headers={"X-Request-ID": "edge-7f3a.1:2"})
    assert response.headers["x-request-id"] == "edge-7f3a.1:2"


def test_without_one_or_with_an_unsafe_one_a_new_id_is_made(client):
    made = client.get("/ping").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/ping").headers["x-request-id"] != made
    for unsafe in ("a b", "x" * 65, "line\u2028break", "<script>"):
        echoed = client.get("/ping", headers={"X-Request-ID": unsafe.encode("utf-8")}).headers
        assert re.fullmatch(r"[0-9a-f]{32}", echoed["x-request-id"]), unsafe


def test_an_error_page_carries_the_request_id_too(client):
    response = client.get("/no/such/page", headers={"X-Request-ID": "lost-1"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "lost-1"


def test_the_jobs_a_request_enqueues_keep_its_id(client, database):
    before = len(request_ids_of_jobs(database))
    response = client.post(
        "/webhooks/kuaidi100", data=signed_push(), headers={"X-Request-ID": "push-42"}
    )
    assert response.status_code == 200
    queued = request_ids_of_jobs(database)[before:]
    assert queued and set(queued) == {"push-42"}


def test_the_worker_runs_a_job_under_its_request_id_and_passes_it_on(database):
    seen: list[str | None] = []

    def first(db, _payload):
        seen.append(current_request_id())
        with db.write() as session:
            jobs.enqueue(session, "tests.second")

    def second(_db, _payload):
        seen.append(current_request_id())

    with request_id_bound("click-9"), database.write() as session:
        jobs.enqueue(session, "tests.first")
    with database.write() as session:
        jobs.enqueue(session, "tests.unrelated")
    worker = Worker(database, {"tests.first": first, "tests.second": second})
    worker.handlers["tests.unrelated"] = second
    assert worker.run_until_idle() == 3
    assert seen == ["click-9", None, "click-9"]
    assert request_ids_of_jobs(database) == ["click-9", None, "click-9"]
    assert current_request_id() is None
