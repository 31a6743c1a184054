"""Channel webhooks: signed deliveries become orders once; anything unsigned stores nothing."""

import json

import pytest
from sqlalchemy import func, select

from backend.jobs.models import Job
from backend.jobs.worker import Worker
from backend.orders import channel_webhooks
from backend.orders.channels import signatures as sig
from backend.orders.models import ChannelEvent, Order
from portal.background import build_handlers
from portal.integrations import build_integrations
from tests.backend.orders.channels.recorded import load_payload, payload_bytes
from tests.conftest import CHANNEL_SECRET, SHOPIFY_SECRET


def ingest_all(database, settings):
    integrations = build_integrations(settings)
    try:
        Worker(database, build_handlers(settings, integrations)).run_until_idle()
    finally:
        integrations.close()


def count(database, model):
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def post_shopify(client, body, secret=SHOPIFY_SECRET, event="evt-1"):
    return client.post(
        "/webhooks/shopify",
        content=body,
        headers={
            "X-Shopify-Hmac-Sha256": sig.build_shopify_hmac(body, secret),
            "X-Shopify-Event-Id": event,
            "Content-Type": "application/json",
        },
    )


def test_a_signed_shopify_order_is_taken_once_whatever_is_replayed(client, database, settings):
    body = payload_bytes("shopify", "normal")
    answers = [post_shopify(client, body).json() for _ in range(3)]
    post_shopify(client, body, event="evt-2")
    assert answers == [{"ok": True, "accepted": True}] * 3
    ingest_all(database, settings)
    with database.read() as session:
        outcomes = session.scalars(select(ChannelEvent.outcome).order_by(ChannelEvent.id)).all()
    assert outcomes == ["created", "duplicate_delivery", "duplicate_delivery", "ignored_older"]
    assert count(database, Order) == 1


def test_a_bad_shopify_signature_is_refused_with_nothing_stored(client, database):
    response = post_shopify(client, payload_bytes("shopify", "normal"), secret="wrong")
    assert response.status_code == 401
    assert count(database, Job) == 0 and count(database, ChannelEvent) == 0


def test_garbage_with_a_good_signature_is_a_clear_422(client, database):
    response = post_shopify(client, b'{"id": "not-a-number"}')
    assert response.status_code == 422 and count(database, Order) == 0


SIGNERS = {
    "taobao": (lambda p: sig.build_top_signature(p, CHANNEL_SECRET), "trade"),
    "jd": (lambda p: sig.build_jd_signature(p, CHANNEL_SECRET), "order"),
    "pinduoduo": (lambda p: sig.build_pdd_signature(p, CHANNEL_SECRET), "order"),
}


@pytest.mark.parametrize("channel", sorted(SIGNERS))
def test_marketplace_pushes_are_verified_with_their_own_scheme(client, database, settings, channel):
    sign, field = SIGNERS[channel]
    params = {
        "app_key": "demo",
        "timestamp": "2026-11-22 12:00:00",
        "sign_method": "md5",
        field: json.dumps(load_payload(channel, "normal"), ensure_ascii=False),
    }
    signed = {**params, "sign": sign(params)}
    assert client.post(f"/webhooks/channels/{channel}", data=signed).status_code == 200
    tampered = {**signed, field: signed[field].replace("1", "2", 1)}
    assert client.post(f"/webhooks/channels/{channel}", data=tampered).status_code == 401
    unsigned = client.post(f"/webhooks/channels/{channel}", data=params)
    assert unsigned.status_code == 401
    ingest_all(database, settings)
    assert count(database, Order) == 1


def test_an_unknown_channel_or_one_without_a_secret_is_refused(client, database):
    assert client.post("/webhooks/channels/ebay", data={"sign": "x"}).status_code == 404
    assert client.post("/webhooks/channels/douyin", data={"sign": "x"}).status_code == 401
    assert count(database, Order) == 0


def test_an_ingest_job_run_again_after_a_crash_records_nothing_twice(client, database, settings):
    """A worker killed after the ingest committed, before the job was marked done: the next
    worker runs the same job row again. Each acknowledged push stays one event."""
    body = payload_bytes("shopify", "normal")
    post_shopify(client, body)
    post_shopify(client, body)  # Shopify's retry: a push of its own, a known duplicate
    with database.read() as session:
        payloads = [
            dict(job.payload)
            for job in session.scalars(
                select(Job).where(Job.kind == channel_webhooks.INGEST).order_by(Job.id)
            )
        ]
    assert len(payloads) == 2 and payloads[0]["receipt"] != payloads[1]["receipt"]
    rules = settings.rules.intake
    results = [
        channel_webhooks.ingest_delivery(database, payload, rules)
        for payload in (payloads[0], payloads[0], payloads[1], payloads[1])
    ]
    with database.read() as session:
        outcomes = session.scalars(select(ChannelEvent.outcome).order_by(ChannelEvent.id)).all()
        orders = session.scalar(select(func.count()).select_from(Order))
    assert outcomes == ["created", "duplicate_delivery"] and orders == 1
    assert [r.outcome for r in results] == [
        "created",
        "created",
        "duplicate_delivery",
        "duplicate_delivery",
    ]
    assert results[0].order_id == results[1].order_id is not None
