"""Address changes end to end: staff approval, the carrier told once, the race with the scan."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from backend.audit.models import AuditEvent
from backend.jobs.worker import Worker
from backend.logistics.warehouse import scan_parcel
from backend.notifications.models import Notification
from backend.orders import address_changes as changes
from backend.orders.address_policy import AddressRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import AddressChange, AddressVersion, ChangeStatus, Order
from backend.orders.service import NewAddress
from emulators.kuaidi100 import Kuaidi100Emulator
from emulators.notifications import DEMO_ALIYUN_KEYS, NotificationEmulator
from portal.background import build_handlers
from portal.integrations import build_integrations
from tests.backend.logistics.live_servers import serve
from tests.factories import SYSTEM, create_label, make_order

NEW = NewAddress("王五", "13711112222", "上海市", "上海市", "浦东新区", "张杨路500号")
CUSTOMER = SYSTEM


def code_of(database, change_id: int) -> str:
    from backend.jobs.models import Job

    with database.read() as session:
        job = session.scalars(select(Job).where(Job.key == f"code:{change_id}")).one()
    return job.payload["code"]


def test_an_approved_request_changes_the_address_tells_the_customer_and_the_carrier_once(
    database, settings
):
    emulator = Kuaidi100Emulator(start=datetime.now(UTC) - timedelta(days=1))
    sms = NotificationEmulator()
    ((key_id, secret),) = DEMO_ALIYUN_KEYS.items()
    with serve(emulator.app) as kuaidi100_url, serve(sms.app) as sms_url:
        wired = replace(
            settings,
            kuaidi100_poll_url=kuaidi100_url,
            kuaidi100_api_url=kuaidi100_url,
            kuaidi100_secret=emulator.secret,
            aliyun_sms_access_key_id=key_id,
            aliyun_sms_access_key_secret=secret,
            aliyun_sms_sign_name="示例商城",
            aliyun_sms_endpoint=sms_url,
        )
        order = make_order(database, status=OrderStatus.PICKING, phone="13800138000")
        with database.write() as session:
            session.execute(
                update(Order)
                .where(Order.id == order.id)
                .values(paid_at=order.paid_at - timedelta(hours=5))
            )
        create_label(database, order.id, "zhongtong", "ZT7599999999999", SYSTEM)
        rules = wired.rules.addresses
        started = changes.start_address_change(database, order.id, NEW, CUSTOMER, rules)
        outcome = changes.confirm_address_change(
            database,
            order.id,
            started.change_id,
            code_of(database, started.change_id),
            CUSTOMER,
            rules,
        )
        assert outcome.status is ChangeStatus.PENDING_APPROVAL
        integrations = build_integrations(wired)
        worker = Worker(database, build_handlers(wired, integrations))
        worker.run_until_idle()  # subscribes the label, texts the code
        assert (
            changes.decide_request(database, started.change_id, True, SYSTEM, rules)
            is ChangeStatus.APPLIED
        )
        worker.run_until_idle()
        worker.run_until_idle()
        integrations.close()
    emulator._http.close()
    with database.read() as session:
        current = session.scalar(
            select(AddressVersion)
            .join(Order, Order.current_address_id == AddressVersion.id)
            .where(Order.id == order.id)
        )
        notices = set(
            session.scalars(select(Notification.event).where(Notification.order_id == order.id))
        )
        carrier_notes = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("shipment.address_change%"))
        ).all()
    assert (current.version, current.recipient_name, current.district) == (2, "王五", "浦东新区")
    assert {"address_changed", "address_request_approved"} <= notices
    modify = [i for i in emulator.intercepts if i.param.get("interceptType") == "MODIFY_ADDR"]
    assert len(modify) == 1 and modify[0].accepted
    assert modify[0].param["recManInfo"]["name"] == "王五"
    assert carrier_notes == ["shipment.address_change_requested"]
    texts = [m for m in sms.sent("sms") if m["template_code"] == "SMS_ADDRESS"]
    assert [m["phone"] for m in texts] == ["13800138000"]


RACE_RULES = AddressRules(max_customer_edits=1000, max_codes_per_hour=1000)


@pytest.mark.parametrize("round_number", range(20))
def test_fifty_edits_racing_one_pack_scan_never_land_after_the_lock(database, round_number):
    order = make_order(database, status=OrderStatus.PAID, phone="13800138000")
    pending = []
    for number in range(50):
        address = replace(NEW, street=f"张杨路{number}号")
        started = changes.start_address_change(database, order.id, address, CUSTOMER, RACE_RULES)
        pending.append((started.change_id, code_of(database, started.change_id)))
    results: dict[int, object] = {}
    barrier = threading.Barrier(51)

    def edit(change_id: int, code: str) -> None:
        barrier.wait()
        try:
            results[change_id] = changes.confirm_address_change(
                database, order.id, change_id, code, CUSTOMER, RACE_RULES
            ).status
        except changes.AddressLocked as locked:
            results[change_id] = locked

    def scan() -> None:
        barrier.wait()
        results[0] = scan_parcel(database, order.public_no, SYSTEM)

    threads = [threading.Thread(target=edit, args=pair) for pair in pending]
    threads.insert(25, threading.Thread(target=scan))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    locked_at = results[0].locked_at
    applied = [cid for cid, r in results.items() if r is ChangeStatus.APPLIED]
    losers = [r for cid, r in results.items() if cid and r is not ChangeStatus.APPLIED]
    assert len(applied) + len(losers) == 50
    assert all(isinstance(r, changes.AddressLocked) and r.locked_at == locked_at for r in losers)
    with database.read() as session:
        versions = session.execute(
            select(AddressVersion.version, AddressVersion.created_at).where(
                AddressVersion.order_id == order.id
            )
        ).all()
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.order_id == order.id, AuditEvent.action == "address.changed")
        )
        refused = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.order_id == order.id, AuditEvent.action == "address.change_refused")
        )
        statuses = session.scalars(
            select(AddressChange.status).where(AddressChange.order_id == order.id)
        ).all()
        scanned = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.order_id == order.id, AuditEvent.action == "order.pack_scanned")
        )
    assert len(versions) == 1 + len(applied)
    assert all(created <= locked_at for _v, created in versions)
    assert audited == len(applied) and refused == len(losers) and scanned == 1
    assert statuses.count("applied") == len(applied)
    assert statuses.count("lost_to_lock") == len(losers)
