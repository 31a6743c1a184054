"""Tracking end to end: the portal, the Kuaidi100 and SMS emulators and the worker, all live."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from backend.jobs.worker import Worker
from backend.logistics import tracking_jobs
from backend.logistics.carriers.base import CircuitBreaker
from backend.logistics.carriers.kuaidi100 import Kuaidi100Client
from backend.logistics.models import Shipment, TrackingEvent
from backend.logistics.status import TrackingStatus
from backend.notifications.models import Notification
from backend.orders.lifecycle import OrderStatus
from emulators.kuaidi100 import Kuaidi100Emulator
from emulators.notifications import DEMO_ALIYUN_KEYS, NotificationEmulator
from portal.background import build_handlers
from portal.integrations import build_integrations
from tests.backend.logistics.live_servers import serve
from tests.factories import SYSTEM, create_shipment, make_order
from tests.live_portal import live_portal


@pytest.fixture
def sms():
    emulator = NotificationEmulator()
    with serve(emulator.app) as url:
        yield emulator, url


@pytest.fixture
def kuaidi100():
    emulator = Kuaidi100Emulator(start=datetime.now(UTC) - timedelta(days=2))
    with serve(emulator.app) as url:
        yield emulator, url
    emulator._http.close()


@pytest.fixture
def wired(settings, database, sms, kuaidi100):
    """A live portal whose settings point at the emulators; yields (base_url, settings)."""
    ((key_id, secret),) = DEMO_ALIYUN_KEYS.items()
    with live_portal(database, settings) as (base_url, sock_settings):
        configured = replace(
            sock_settings,
            kuaidi100_poll_url=kuaidi100[1],
            kuaidi100_api_url=kuaidi100[1],
            aliyun_sms_access_key_id=key_id,
            aliyun_sms_access_key_secret=secret,
            aliyun_sms_sign_name="示例商城",
            aliyun_sms_endpoint=sms[1],
        )
        yield base_url, configured


def work(database, settings) -> int:
    integrations = build_integrations(settings)
    try:
        return Worker(database, build_handlers(settings, integrations)).run_until_idle()
    finally:
        integrations.close()


def test_a_parcel_moves_from_pickup_to_signed_with_one_sms_per_transition(
    database, wired, kuaidi100, sms
):
    base_url, settings = wired
    emulator, _ = kuaidi100
    order = make_order(database, status=OrderStatus.PACKED, phone="13812345678")
    create_shipment(database, order.id, "zhongtong", "ZT7512345678901", SYSTEM)
    work(database, settings)  # subscribes through the adapter, sends the "shipped" SMS
    waybill = emulator.waybills["ZT7512345678901"]
    assert waybill.subscription is not None
    statuses = []
    for _ in range(len(waybill.plan)):
        assert all(push.accepted for push in emulator.advance())
        work(database, settings)
        with database.read() as session:
            statuses.append(session.scalars(select(Shipment.status)).one())
    assert statuses[0] == TrackingStatus.PICKED_UP and statuses[-1] == TrackingStatus.DELIVERED
    with httpx.Client(base_url=base_url) as browser:
        messages = sms[0].sent("sms")
        events = [m["template_code"] for m in messages]
        assert events[0] == "SMS_SHIPPED" and events[-1] == "SMS_DELIVERED"
        assert len(events) == len(set(events))
        link = messages[-1]["params"]["link"]
        assert re.fullmatch(rf"{re.escape(base_url)}/t/[A-Za-z0-9]{{8}}", link)
        opened = browser.get(link, follow_redirects=True)
        assert opened.status_code == 200 and "已签收" in opened.text


def test_the_same_push_fifty_times_at_once_stores_its_events_once_and_notifies_once(
    database, wired, kuaidi100, sms
):
    base_url, settings = wired
    emulator, _ = kuaidi100
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "zhongtong", "ZT7500000000050", SYSTEM)
    work(database, settings)
    waybill = emulator.waybills["ZT7500000000050"]
    waybill.revealed = len(waybill.plan) - 1  # up to out for delivery
    _, param, sign = emulator.build_push(waybill)
    answers: list[int] = []

    def push() -> None:
        # As Kuaidi100 does: a push not acknowledged (timeout, 5xx) is sent again later. What
        # must hold is that each is acknowledged in the end, not how fast a busy machine answers.
        deadline = time.monotonic() + 180
        with httpx.Client(base_url=base_url, timeout=30) as http:
            while True:
                try:
                    answer = http.post("/webhooks/kuaidi100", data={"param": param, "sign": sign})
                except httpx.TimeoutException:
                    answer = None
                if (answer is not None and answer.status_code < 500) or time.monotonic() > deadline:
                    answers.append(answer.status_code if answer is not None else 0)
                    return
                time.sleep(0.5)

    threads = [threading.Thread(target=push) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 50
    integrations = [build_integrations(settings) for _ in range(3)]
    workers = [Worker(database, build_handlers(settings, i)) for i in integrations]
    runners = [threading.Thread(target=w.run_until_idle) for w in workers]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    for each in integrations:
        each.close()
    with database.read() as session:
        stored = session.scalar(select(func.count()).select_from(TrackingEvent))
        notices = session.execute(
            select(Notification.event, func.count()).group_by(Notification.event)
        ).all()
    assert stored == len(waybill.plan) - 1
    assert all(n == 1 for _event, n in notices)
    sent = [m["template_code"] for m in sms[0].sent("sms")]
    assert sent.count("SMS_OUT") <= 1 and len(sent) == len(set(sent))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_carrier_outage_opens_the_breaker_pages_keep_rendering_and_the_backlog_drains(
    database, wired, kuaidi100
):
    base_url, _settings = wired
    emulator, emulator_url = kuaidi100
    clock = Clock()
    orders = []
    for number in range(3):
        order = make_order(database, status=OrderStatus.PACKED)
        create_shipment(database, order.id, "yunda", f"YD43000000000{number}", SYSTEM)
        emulator.add_waybill("yunda", f"YD43000000000{number}", steps_done=3)
        orders.append(order)
    with httpx.Client(timeout=5) as http:
        client = Kuaidi100Client(
            http,
            customer="TESTCUSTOMER",
            key="TESTKEY",
            salt="s",
            poll_base_url=emulator_url,
            breaker=CircuitBreaker("kuaidi100", threshold=2, cool_down=60, clock=clock),
        )
        clients = tracking_jobs.TrackingClients(
            kuaidi100=client, poll_carriers=frozenset({"yunda"})
        )
        assert tracking_jobs.poll_shipments(database, clients) == 3
        before = _events(database)
        emulator.outage = True
        for waybill in emulator.waybills.values():
            waybill.revealed += 2
        with pytest.raises(Exception, match="503"):
            tracking_jobs.poll_shipments(database, clients, now=_later(1))
        with pytest.raises(Exception, match="503"):
            tracking_jobs.poll_shipments(database, clients, now=_later(2))
        assert client.breaker.state == "open"
        assert tracking_jobs.poll_shipments(database, clients, now=_later(3)) == 0
        assert _events(database) == before
        _assert_page_renders(base_url, database, orders[0])
        emulator.outage = False
        clock.now += 61
        assert tracking_jobs.poll_shipments(database, clients, now=_later(4)) == 3
        assert tracking_jobs.poll_shipments(database, clients, now=_later(5)) == 3
    assert _events(database) == before + 3 * 2


def _later(hours: int) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def _events(database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(TrackingEvent)) or 0


def _assert_page_renders(base_url, database, order) -> None:
    from backend.orders.access import issue_short_link
    from tests.portal.helpers import ADMIN

    code = issue_short_link(database, order.id, ADMIN, timedelta(days=1))
    with httpx.Client(base_url=base_url, follow_redirects=True) as browser:
        page = browser.get(f"/t/{code}")
    assert page.status_code == 200
    assert re.search(r"(刚刚|\d+ (分钟|小时|天)前)更新", page.text)
    assert "快件已到达" in page.text
