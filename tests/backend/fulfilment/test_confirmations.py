"""The ship confirmation job through the real worker, against a loopback TOP, on every database."""

from __future__ import annotations

from contextlib import ExitStack

from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.db import Database
from backend.fulfilment.confirmations import CONFIRM_SHIPMENT
from backend.fulfilment.models import ConfirmationStatus, ShipConfirmationRecord
from backend.jobs.models import Job, JobStatus
from backend.jobs.queue import enqueue
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import OrderLine, SalesChannel
from portal.demo_services import _with_channels
from tests.channel_shops import (
    SHOPS,
    app_client,
    order_of,
    run_jobs,
    ship,
    stock,
    take_orders,
    tmall_push,
    two_tmall_shops,
)
from tests.factories import SYSTEM, create_shipment, make_order


def record_of(database: Database, shipment_id: int) -> ShipConfirmationRecord:
    with database.read() as session:
        record = session.scalars(
            select(ShipConfirmationRecord).where(ShipConfirmationRecord.shipment_id == shipment_id)
        ).one()
        session.expunge(record)
        return record


def ingested_order(database, world, tid, shop="tmall-outlet"):
    stock(database)
    with app_client(world.settings, database) as client:
        push = tmall_push(tid, f"1862100{tid:04d}", SHOPS[shop][1])
        assert client.post(f"/webhooks/channels/tmall/{shop}", data=push).status_code == 200
        take_orders(client, database, world.settings)
    return order_of(database, tid)


def test_a_shipment_is_confirmed_to_its_own_shop_once_however_often_the_job_runs(
    database, settings, tmp_path
):
    with two_tmall_shops(settings, tmp_path) as world:
        order = ingested_order(database, world, 70)
        shipment_id = ship(database, order.id, "yuantong", "YT7000000000001")
        run_jobs(database, world.settings, CONFIRM_SHIPMENT)
        with database.write() as session:  # a repeat, as after a worker died mid-job
            enqueue(session, CONFIRM_SHIPMENT, {"shipment_id": shipment_id})
        ship(database, order.id, "yuantong", "YT7000000000001")  # the same waybill again
        run_jobs(database, world.settings, CONFIRM_SHIPMENT)
        recorded = list(world.top.confirmations)
    assert [(r.shop, r.order_no, r.carrier, r.waybill) for r in recorded] == [
        ("outlet-key", "70", "YTO", "YT7000000000001")
    ]
    record = record_of(database, shipment_id)
    assert (record.status, record.attempts, record.platform) == (
        ConfirmationStatus.CONFIRMED,
        1,
        SalesChannel.TMALL,
    )
    assert record.confirmed_at is not None and record.idempotency_key
    with database.read() as session:
        events = session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject == "ship_confirmation")
        ).all()
    assert events == ["shipment.channel_confirmed"]


def test_a_platform_that_is_down_is_retried_by_the_worker_until_it_answers(
    database, settings, tmp_path
):
    with two_tmall_shops(settings, tmp_path) as world:
        order = ingested_order(database, world, 71, shop="tmall-flagship")
        world.top.down = True
        shipment_id = ship(database, order.id, "zhongtong", "ZT7100000000001")
        run_jobs(database, world.settings, CONFIRM_SHIPMENT)
        waiting = record_of(database, shipment_id)
        with database.write() as session:  # the backoff has passed
            job = session.scalars(select(Job).where(Job.kind == CONFIRM_SHIPMENT)).one()
            assert job.status == JobStatus.PENDING and "ChannelUnavailable" in job.last_error
            job.run_at = job.created_at
        world.top.down = False
        run_jobs(database, world.settings, CONFIRM_SHIPMENT)
        recorded = [(r.shop, r.carrier) for r in world.top.confirmations]
    assert waiting.status == ConfirmationStatus.RETRYING and waiting.last_code == "unavailable"
    assert recorded == [("flagship-key", "ZTO")]
    assert record_of(database, shipment_id).status == ConfirmationStatus.CONFIRMED


def test_a_refusal_is_recorded_with_the_platforms_message_and_not_sent_again_by_the_job(
    database, settings, tmp_path
):
    with two_tmall_shops(settings, tmp_path) as world:
        order = ingested_order(database, world, 72)
        world.top.refuse("72", "isv.logistics-offline-service-error", "运单号不符合规则")
        shipment_id = ship(database, order.id, "yuantong", "YT7200000000001")
        run_jobs(database, world.settings, CONFIRM_SHIPMENT)
        with database.write() as session:
            enqueue(session, CONFIRM_SHIPMENT, {"shipment_id": shipment_id})
        run_jobs(database, world.settings, CONFIRM_SHIPMENT)
        calls = world.top.calls
    record = record_of(database, shipment_id)
    assert (record.status, record.last_code, record.last_message) == (
        ConfirmationStatus.REFUSED,
        "isv.logistics-offline-service-error",
        "运单号不符合规则",
    )
    assert calls == 1  # the repeat did not call again
    with database.read() as session:
        dead = session.scalar(select(func.count()).where(Job.status == JobStatus.DEAD))
    assert dead == 0  # a refusal waits for staff, not on the dead-jobs page


def test_an_own_shop_order_has_nothing_to_confirm(database, settings):
    order = make_order(database, channel=SalesChannel.OWN_SHOP, status=OrderStatus.PACKED)
    shipment_id = create_shipment(database, order.id, "shunfeng", "SF0000000000009", SYSTEM)
    with database.write() as session:  # record_waybill enqueues none; a stray job is harmless
        enqueue(session, CONFIRM_SHIPMENT, {"shipment_id": shipment_id})
    run_jobs(database, settings, CONFIRM_SHIPMENT)
    record = record_of(database, shipment_id)
    assert (record.status, record.last_code, record.attempts) == (
        ConfirmationStatus.SKIPPED,
        "no_channel_api",
        0,
    )


def test_a_shop_without_api_credentials_is_refused_for_staff_to_see(database, settings):
    order = make_order(database, channel=SalesChannel.TAOBAO, status=OrderStatus.PACKED)
    shipment_id = ship(database, order.id, "yuantong", "YT0000000000077")
    run_jobs(database, settings, CONFIRM_SHIPMENT)
    record = record_of(database, shipment_id)
    assert (record.status, record.last_code) == (ConfirmationStatus.REFUSED, "shop_not_configured")


def test_a_split_shipment_confirms_each_parcel_with_its_own_sub_orders(
    database, settings, tmp_path
):
    with two_tmall_shops(settings, tmp_path) as world:
        stock(database)
        with app_client(world.settings, database) as client:
            push = tmall_push(90, "18621000090", SHOPS["tmall-outlet"][1], "multi_line")
            assert (
                client.post("/webhooks/channels/tmall/tmall-outlet", data=push).status_code == 200
            )
            take_orders(client, database, world.settings)
        order = order_of(database, 90)
        with database.read() as session:
            lines = dict(
                session.execute(
                    select(OrderLine.channel_line_id, OrderLine.id).where(
                        OrderLine.order_id == order.id
                    )
                ).all()
            )
        first = ship(database, order.id, "yuantong", "YT9000000000001", {lines["91"]: 1})
        second = ship(database, order.id, "shunfeng", "SF9000000000002", {lines["92"]: 2})
        run_jobs(database, world.settings, CONFIRM_SHIPMENT)
        recorded = [(r.carrier, r.waybill, r.lines) for r in world.top.confirmations]
    assert sorted(recorded) == [
        ("SF", "SF9000000000002", (("92", 0),)),
        ("YTO", "YT9000000000001", (("91", 0),)),
    ]
    statuses = {record_of(database, s).status for s in (first, second)}
    assert statuses == {ConfirmationStatus.CONFIRMED}


def test_the_demo_confirms_through_a_loopback_platform_per_default_shop(database, settings):
    with ExitStack() as stack:
        wired = _with_channels(settings, stack)
        taobao = wired.shops.for_push("taobao", None)
        assert taobao.webhook_secret == settings.shops.for_push("taobao", None).webhook_secret
        order = make_order(database, channel=SalesChannel.JD, status=OrderStatus.PACKED)
        shipment_id = ship(database, order.id, "zhongtong", "ZT0000000000042")
        run_jobs(database, wired, CONFIRM_SHIPMENT)
    record = record_of(database, shipment_id)
    assert (record.status, record.attempts) == (ConfirmationStatus.CONFIRMED, 1)
