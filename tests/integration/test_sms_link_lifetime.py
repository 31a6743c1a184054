"""The link in a notification SMS lives as long as PORTAL_SHORT_LINK_DAYS says."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from backend.clock import utcnow
from backend.jobs.worker import Worker
from backend.orders.access import hash_code
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import ShortLink
from emulators.notifications import DEMO_ALIYUN_KEYS, NotificationEmulator
from portal.app import create_app
from portal.background import build_handlers
from portal.integrations import build_integrations
from tests.backend.logistics.live_servers import serve
from tests.factories import SYSTEM, create_shipment, make_order


@pytest.fixture
def sms():
    emulator = NotificationEmulator()
    with serve(emulator.app) as url:
        yield emulator, url


def texting(settings, sms_url: str, days: int):
    ((key_id, secret),) = DEMO_ALIYUN_KEYS.items()
    return replace(
        settings,
        short_link_days=days,
        aliyun_sms_access_key_id=key_id,
        aliyun_sms_access_key_secret=secret,
        aliyun_sms_sign_name="示例商城",
        aliyun_sms_endpoint=sms_url,
    )


def work(database, settings) -> None:
    integrations = build_integrations(settings)
    try:
        Worker(database, build_handlers(settings, integrations)).run_until_idle()
    finally:
        integrations.close()


@pytest.mark.parametrize("days", [3, 45])
def test_a_shipped_sms_link_expires_after_the_configured_days(database, settings, sms, days):
    emulator, sms_url = sms
    configured = texting(settings, sms_url, days)
    order = make_order(database, status=OrderStatus.PACKED, phone="13812345678")
    create_shipment(database, order.id, "sandbox", "SB7700000001", SYSTEM)
    work(database, configured)
    sent_before = utcnow()

    (message,) = emulator.sent("sms")
    assert message["template_code"] == "SMS_SHIPPED"
    code = message["params"]["link"].rsplit("/t/", 1)[1]
    with database.read() as session:
        link = session.scalars(
            select(ShortLink).where(ShortLink.code_hash == hash_code(code))
        ).one()
    lifetime = link.expires_at - link.created_at
    assert lifetime == timedelta(days=days)
    assert link.expires_at <= sent_before + timedelta(days=days)

    with TestClient(create_app(configured, database)) as client:
        opened = client.get(f"/t/{code}", follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/orders/{order.public_no}"
