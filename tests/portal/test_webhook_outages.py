"""While the database is unreachable, each webhook says 503 in its provider's own terms."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from backend.db import Database
from backend.orders.channels import signatures as sig
from portal.app import create_app
from tests.backend.logistics.live_servers import payload
from tests.backend.orders.channels.recorded import load_payload, payload_bytes
from tests.conftest import CHANNEL_SECRET, SF_PUSH_TOKEN, SHOPIFY_SECRET
from tests.portal.test_webhooks import signed


def kuaidi100(client):
    return client.post("/webhooks/kuaidi100", data=signed(payload("kuaidi100_push_signed.json")))


def sf(client):
    return client.post(
        f"/webhooks/sf/{SF_PUSH_TOKEN}",
        content=payload("sf_push_single.json"),
        headers={"content-type": "application/json"},
    )


def shopify(client):
    body = payload_bytes("shopify", "normal")
    headers = {
        "X-Shopify-Hmac-Sha256": sig.build_shopify_hmac(body, SHOPIFY_SECRET),
        "X-Shopify-Event-Id": "evt-outage",
        "Content-Type": "application/json",
    }
    return client.post("/webhooks/shopify", content=body, headers=headers)


def taobao(client):
    params = {
        "app_key": "demo",
        "timestamp": "2026-11-22 12:00:00",
        "sign_method": "md5",
        "trade": json.dumps(load_payload("taobao", "normal"), ensure_ascii=False),
    }
    return client.post(
        "/webhooks/channels/taobao",
        data={**params, "sign": sig.build_top_signature(params, CHANNEL_SECRET)},
    )


REFUSALS = {
    kuaidi100: lambda body: body["result"] is False and body["returnCode"] == "500",
    sf: lambda body: body["return_code"] not in ("0000", None),
    shopify: lambda body: "error" in body and "accepted" not in body,
    taobao: lambda body: "error" in body and "accepted" not in body,
}


@pytest.mark.parametrize("send", list(REFUSALS), ids=lambda send: send.__name__)
def test_a_verified_push_gets_503_in_the_providers_format_while_the_database_is_gone(
    settings, tmp_path, send
):
    unreachable = Database(f"sqlite:///{tmp_path}/missing/dir/portal.db")
    with TestClient(create_app(settings, unreachable)) as client:
        response = send(client)
    unreachable.dispose()
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert REFUSALS[send](response.json())
