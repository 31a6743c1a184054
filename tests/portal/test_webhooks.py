"""Carrier webhooks: verified before anything is stored, acknowledged in the carrier's format."""

import hashlib
import json

import pytest
from sqlalchemy import func, select

from backend.jobs.models import Job
from backend.jobs.worker import Worker
from backend.logistics.models import TrackingEvent
from backend.orders.lifecycle import OrderStatus
from portal.background import build_handlers
from portal.integrations import build_integrations
from tests.backend.logistics.live_servers import payload
from tests.conftest import KUAIDI100_SALT, SF_PUSH_TOKEN
from tests.factories import SYSTEM, create_shipment, make_order


def signed(param: str, salt: str = KUAIDI100_SALT) -> dict[str, str]:
    return {"param": param, "sign": hashlib.md5((param + salt).encode()).hexdigest().upper()}  # noqa: S324


def count(database, model) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def run_worker(database, settings):
    integrations = build_integrations(settings)
    try:
        Worker(database, build_handlers(settings, integrations)).run_until_idle()
    finally:
        integrations.close()


@pytest.fixture
def zhongtong_order(database):
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "zhongtong", "ZT7500000000001", SYSTEM)
    return order


def test_a_signed_kuaidi100_push_is_acknowledged_and_merged_by_the_worker(
    client, database, settings, zhongtong_order
):
    response = client.post(
        "/webhooks/kuaidi100", data=signed(payload("kuaidi100_push_signed.json"))
    )
    assert response.status_code == 200
    assert response.json() == {"result": True, "returnCode": "200", "message": "成功"}
    run_worker(database, settings)
    assert count(database, TrackingEvent) > 3


def test_a_bad_kuaidi100_signature_is_refused_and_nothing_is_stored(client, database):
    jobs_before = count(database, Job)
    form = signed(payload("kuaidi100_push_signed.json"), salt="wrong-salt")
    response = client.post("/webhooks/kuaidi100", data=form)
    assert response.status_code == 403
    assert response.json()["result"] is False
    assert count(database, Job) == jobs_before


@pytest.mark.parametrize("param", ["", "not json", "[]", '{"lastResult": 5}'])
def test_a_malformed_kuaidi100_push_is_refused(client, database, param):
    jobs_before = count(database, Job)
    response = client.post("/webhooks/kuaidi100", data=signed(param))
    assert response.status_code in (400, 403)
    assert count(database, Job) == jobs_before


def test_a_push_for_someone_elses_waybill_is_acknowledged_and_ignored(client, database, settings):
    response = client.post(
        "/webhooks/kuaidi100", data=signed(payload("kuaidi100_push_signed.json"))
    )
    assert response.status_code == 200
    run_worker(database, settings)
    assert count(database, TrackingEvent) == 0


def test_an_sf_push_needs_the_secret_path_token(client, database, settings):
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "shunfeng", "SF1234567890123", SYSTEM)
    body = payload("sf_push_single.json")
    wrong = client.post(
        "/webhooks/sf/not-the-token", content=body, headers={"content-type": "application/json"}
    )
    assert wrong.status_code == 404
    right = client.post(
        f"/webhooks/sf/{SF_PUSH_TOKEN}", content=body, headers={"content-type": "application/json"}
    )
    assert right.status_code == 200 and right.json()["return_code"] == "0000"
    run_worker(database, settings)
    assert count(database, TrackingEvent) == 1


def test_webhooks_need_no_csrf_token_but_refuse_oversized_bodies(client):
    huge = json.dumps({"x": "y" * (3 * 1024 * 1024)})
    response = client.post("/webhooks/kuaidi100", data={"param": huge, "sign": "x"})
    assert response.status_code == 413
