"""Several deliveries in one intake transaction: each order's rules hold as if it came alone."""

import json
import threading
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.jobs.models import Job, JobStatus
from backend.jobs.queue import Batched, enqueue
from backend.jobs.worker import Worker
from backend.orders import channel_webhooks
from backend.orders.intake import Arrival, IntakeRules, ingest_channel_orders
from backend.orders.inventory import save_sku
from backend.orders.models import (
    ChannelEvent,
    HoldReason,
    IntakeOutcome,
    Order,
    Reservation,
    Sku,
)
from tests.backend.test_intake import one_unit_order
from tests.factories import SYSTEM

RULES = IntakeRules()


def count(database, model, *where):
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def arrival(order, delivery_id=None, receipt=None):
    return Arrival(
        order, json.dumps({"no": order.channel_order_no}), SYSTEM, delivery_id, None, receipt
    )


def reserved(database, code):
    with database.read() as session:
        return session.scalar(select(Sku.reserved).where(Sku.code == code))


def test_the_same_delivery_twice_in_one_batch_is_kept_twice_and_applied_once(database):
    save_sku(database, "CUP-1", "CUP-1", 10, 0, SYSTEM)
    order = one_unit_order("D1", "13900000001")
    first, second = ingest_channel_orders(
        database, [arrival(order, "evt-1", "r1"), arrival(order, "evt-1", "r2")], RULES
    )
    assert (first.outcome, second.outcome) == (
        IntakeOutcome.CREATED,
        IntakeOutcome.DUPLICATE_DELIVERY,
    )
    assert count(database, Order) == 1 and count(database, ChannelEvent) == 2
    assert count(database, Reservation) == 1 and reserved(database, "CUP-1") == 1


def test_the_same_order_in_two_deliveries_of_one_batch_is_created_then_updated(database):
    save_sku(database, "CUP-1", "CUP-1", 10, 0, SYSTEM)
    placed = one_unit_order("S1", "13900000002")
    unpaid = replace(placed, status=placed.status.PENDING_PAYMENT)
    paid = replace(placed, updated_at=placed.updated_at + timedelta(minutes=1))
    created, updated, replayed = ingest_channel_orders(
        database, [arrival(unpaid), arrival(paid), arrival(paid)], RULES
    )
    assert (created.outcome, updated.outcome, replayed.outcome) == (
        IntakeOutcome.CREATED,
        IntakeOutcome.UPDATED,
        IntakeOutcome.IGNORED_OLDER,
    )
    assert created.order_id == updated.order_id == replayed.order_id
    with database.read() as session:
        order = session.get(Order, created.order_id)
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.order_id == order.id).order_by(AuditEvent.id)
        ).all()
    assert (order.status, order.hold_reason, order.current_address_id is not None) == (
        "paid",
        None,
        True,
    )
    assert sorted(actions) == ["order.ingested", "order.pay"]
    assert count(database, Order) == 1 and count(database, Reservation) == 1


def test_two_orders_of_one_batch_for_the_last_unit_get_it_in_turn(database):
    save_sku(database, "CUP-1", "CUP-1", 1, 0, SYSTEM)
    first, second = ingest_channel_orders(
        database,
        [
            arrival(one_unit_order("L1", "13900000003")),
            arrival(one_unit_order("L2", "13900000004")),
        ],
        RULES,
    )
    assert (first.hold, second.hold) == (None, HoldReason.OUT_OF_STOCK)
    assert reserved(database, "CUP-1") == 1 and count(database, Reservation) == 1
    with database.read() as session:
        holds = dict(session.execute(select(Order.channel_order_no, Order.hold_reason)).all())
    assert holds == {"L1": None, "L2": HoldReason.OUT_OF_STOCK}


def test_a_buyer_twice_in_one_batch_is_held_as_a_duplicate(database):
    save_sku(database, "CUP-1", "CUP-1", 10, 0, SYSTEM)
    results = ingest_channel_orders(
        database,
        [
            arrival(one_unit_order("B1", "13900000005")),
            arrival(one_unit_order("B2", "13900000005")),
            arrival(one_unit_order("B3", "13900000006")),
        ],
        RULES,
    )
    assert [result.hold for result in results] == [None, HoldReason.DUPLICATE_SUSPECT, None]


def test_one_order_the_database_refuses_fails_alone_and_leaves_nothing(database):
    save_sku(database, "CUP-1", "CUP-1", 10, 0, SYSTEM)
    good = one_unit_order("G1", "13900000007")
    broken = one_unit_order("G2", "13900000008")
    broken = replace(broken, lines=(replace(broken.lines[0], quantity=0),))  # CHECK quantity > 0
    events_before = count(database, AuditEvent)
    before, failed, after = ingest_channel_orders(
        database,
        [
            arrival(good, "e1"),
            arrival(broken, "e2"),
            arrival(
                replace(
                    good, channel_order_no="G3", address=replace(good.address, phone="13900000009")
                ),
                "e3",
            ),
        ],
        RULES,
    )
    assert isinstance(failed, Exception)
    assert (before.outcome, after.outcome) == (IntakeOutcome.CREATED, IntakeOutcome.CREATED)
    with database.read() as session:
        numbers = set(session.scalars(select(Order.channel_order_no)))
        deliveries = set(session.scalars(select(ChannelEvent.delivery_id)))
    assert numbers == {"G1", "G3"} and deliveries == {"e1", "e3"}
    assert count(database, AuditEvent) == events_before + 4  # ingested + pay, twice
    assert reserved(database, "CUP-1") == 2


def run_batches_together(database, batches):
    barrier = threading.Barrier(len(batches))
    results, errors = {}, []

    def run(number, arrivals):
        barrier.wait()
        try:
            results[number] = ingest_channel_orders(database, arrivals, RULES)
        except Exception as error:
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=(number, arrivals))
        for number, arrivals in enumerate(batches)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    return results


def test_two_workers_batches_for_scarce_stock_of_two_skus_never_oversell_or_deadlock(database):
    """Each batch takes the SKUs in the other's order: locks are still taken in one order."""
    save_sku(database, "CUP-1", "CUP-1", 3, 0, SYSTEM)
    save_sku(database, "MUG-1", "MUG-1", 3, 0, SYSTEM)

    def batch(prefix, skus):
        return [
            arrival(one_unit_order(f"{prefix}{n}", f"138{prefix == 'A'}{n:07d}", sku=sku))
            for n, sku in enumerate(skus)
        ]

    a = batch("A", ["CUP-1", "MUG-1"] * 3)
    b = batch("B", ["MUG-1", "CUP-1"] * 3)
    results = run_batches_together(database, [a, b])
    holds = [result.hold for outcomes in results.values() for result in outcomes]
    assert holds.count(None) == 6 and holds.count(HoldReason.OUT_OF_STOCK) == 6
    assert (reserved(database, "CUP-1"), reserved(database, "MUG-1")) == (3, 3)
    assert count(database, Reservation) == 6 and count(database, Order) == 12


def test_the_same_order_in_two_workers_batches_at_once_becomes_one_order(database):
    save_sku(database, "CUP-1", "CUP-1", 10, 0, SYSTEM)
    order = one_unit_order("T1", "13900000010")
    others = [arrival(one_unit_order(f"T{n}", f"1390000002{n}")) for n in range(2, 5)]
    results = run_batches_together(
        database,
        [[arrival(order, "evt-a"), *others[:1]], [arrival(order, "evt-b"), *others[1:]]],
    )
    outcomes = sorted(str(outcomes[0].outcome) for outcomes in results.values())
    assert outcomes == ["created", "ignored_older"]
    assert count(database, Order, Order.channel_order_no == "T1") == 1
    assert count(database, Order) == 4 and count(database, ChannelEvent) == 5
    assert reserved(database, "CUP-1") == 4


def test_a_delivery_job_that_no_longer_maps_fails_alone_in_its_batch(database):
    save_sku(database, "CUP-1", "CUP-1", 10, 0, SYSTEM)
    with database.write() as session:
        enqueue(
            session, channel_webhooks.INGEST, {"channel": "shopify", "order": "not json", "raw": ""}
        )
    handler = Batched(lambda db, payloads: channel_webhooks.ingest_deliveries(db, payloads, RULES))
    worker = Worker(database, {channel_webhooks.INGEST: handler})
    # A delivery as the webhook stores it: the recorded Shopify order, signed and accepted.
    from tests.backend.orders.channels.recorded import payload_bytes

    raw = payload_bytes("shopify", "normal").decode()
    with database.write() as session:
        enqueue(
            session,
            channel_webhooks.INGEST,
            {
                "channel": "shopify",
                "order": raw,
                "raw": raw,
                "delivery_id": "evt-9",
                "receipt": "r9",
            },
        )
    assert worker.run_until_idle() == 2
    with database.read() as session:
        rows = session.execute(
            select(Job.status, Job.attempts, Job.last_error).order_by(Job.id)
        ).all()
    (bad_status, bad_attempts, bad_error), (good_status, good_attempts, good_error) = rows
    assert (bad_status, bad_attempts, "PayloadInvalid" in bad_error) == (JobStatus.PENDING, 1, True)
    assert (good_status, good_attempts, good_error) == (JobStatus.DONE, 1, None)
    assert count(database, Order) == 1
