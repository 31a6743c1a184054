"""Channel intake: one order per channel order, newest wins, stock never oversold, holds."""

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.clock import utcnow
from backend.db import is_unavailable
from backend.orders.channels import map_order
from backend.orders.intake import IntakeRules, ingest_channel_order
from backend.orders.inventory import save_sku
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import (
    ChannelEvent,
    HoldReason,
    IntakeOutcome,
    Order,
    OrderLine,
    Reservation,
    ReservationState,
    Sku,
)
from backend.staff.models import Role
from tests.backend.orders.channels.recorded import load_payload, payload_bytes
from tests.factories import SYSTEM

RULES = IntakeRules()
CHANNELS = ("shopify", "taobao", "tmall", "jd", "pinduoduo", "douyin")


def ingest(database, channel, case, rules=RULES, **changes):
    order = map_order(channel, load_payload(channel, case))
    if changes:
        order = replace(order, **changes)
    return ingest_channel_order(
        database, order, payload_bytes(channel, case).decode(), rules, SYSTEM
    )


def count(database, model, *where):
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_recorded_order_becomes_one_canonical_order_and_its_replay_changes_nothing(
    database, channel
):
    canonical = map_order(channel, load_payload(channel, "normal"))
    first = ingest(database, channel, "normal")
    again = ingest(database, channel, "normal")
    assert first.outcome is IntakeOutcome.CREATED
    assert again.outcome is IntakeOutcome.IGNORED_OLDER and again.order_id == first.order_id
    with database.read() as session:
        order = session.get(Order, first.order_id)
        lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    assert (order.channel, order.channel_order_no, order.total_fen) == (
        str(canonical.channel),
        canonical.channel_order_no,
        canonical.total_fen,
    )
    assert [(line.sku, line.quantity, line.unit_price_fen) for line in lines] == [
        (line.channel_sku, line.quantity, line.unit_price_fen) for line in canonical.lines
    ]
    assert count(database, Order) == 1 and count(database, ChannelEvent) == 2
    assert order.hold_reason == HoldReason.UNKNOWN_SKU  # no SKU master yet


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_older_update_arriving_after_a_newer_one_never_regresses_the_order(database, channel):
    newer = map_order(channel, load_payload(channel, "cancelled"))
    older = replace(
        map_order(channel, load_payload(channel, "normal")),
        channel_order_no=newer.channel_order_no,
        updated_at=newer.updated_at - timedelta(hours=1),
    )
    created = ingest_channel_order(database, newer, "{}", RULES, SYSTEM)
    late = ingest_channel_order(database, older, "{}", RULES, SYSTEM)
    assert (created.outcome, late.outcome) == (IntakeOutcome.CREATED, IntakeOutcome.IGNORED_OLDER)
    with database.read() as session:
        order = session.get(Order, created.order_id)
    assert order.status == OrderStatus.CANCELLED and count(database, Order) == 1


def test_a_repeated_delivery_id_is_kept_but_not_applied(database):
    order = map_order("shopify", load_payload("shopify", "normal"))
    raw = payload_bytes("shopify", "normal").decode()
    first = ingest_channel_order(database, order, raw, RULES, SYSTEM, delivery_id="evt-1")
    second = ingest_channel_order(database, order, raw, RULES, SYSTEM, delivery_id="evt-1")
    assert (first.outcome, second.outcome) == (
        IntakeOutcome.CREATED,
        IntakeOutcome.DUPLICATE_DELIVERY,
    )
    assert count(database, ChannelEvent) == 2 and count(database, Order) == 1


def stock(database, code, on_hand, cost=0):
    return save_sku(database, code, code, on_hand, cost, SYSTEM)


def one_unit_order(channel_order_no, phone, sku="CUP-1", price=8_800):
    base = map_order("shopify", load_payload("shopify", "normal"))
    line = replace(base.lines[0], channel_sku=sku, quantity=1, unit_price_fen=price)
    address = replace(base.address, phone=phone)
    return replace(
        base,
        channel_order_no=channel_order_no,
        lines=(line,),
        total_fen=price,
        address=address,
        buyer_phone=phone,
        placed_at=utcnow(),
        updated_at=utcnow(),
    )


@pytest.mark.parametrize("round_number", range(20))
def test_two_hundred_buyers_for_three_units_get_exactly_three(database, round_number):
    stock(database, "CUP-1", on_hand=3)
    barrier = threading.Barrier(200)
    results = []

    def buy(number: int) -> None:
        order = one_unit_order(f"R{round_number}-{number}", f"139{number:08d}")
        barrier.wait()
        while True:
            try:
                results.append(ingest_channel_order(database, order, "{}", RULES, SYSTEM).hold)
                return
            except Exception as error:
                # 200 threads share one pool: one that waits too long is told "unavailable",
                # as a webhook would answer 503, and the channel delivers again.
                if not is_unavailable(error):
                    raise

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with database.read() as session:
        sku = session.scalars(select(Sku)).one()
        reserved = session.scalar(
            select(func.count())
            .select_from(Reservation)
            .where(Reservation.state == ReservationState.RESERVED)
        )
    assert results.count(None) == 3 and results.count(HoldReason.OUT_OF_STOCK) == 197
    assert (sku.reserved, reserved) == (3, 3) and sku.on_hand - sku.reserved == 0


def test_the_same_phone_and_sku_within_five_minutes_is_held_as_a_duplicate(database):
    stock(database, "CUP-1", on_hand=10)
    first = ingest_channel_order(database, one_unit_order("A1", "13900000001"), "{}", RULES, SYSTEM)
    second = ingest_channel_order(
        database, replace(one_unit_order("B1", "13900000001")), "{}", RULES, SYSTEM
    )
    other = ingest_channel_order(database, one_unit_order("C1", "13900000002"), "{}", RULES, SYSTEM)
    assert (first.hold, second.hold, other.hold) == (None, HoldReason.DUPLICATE_SUSPECT, None)


def test_high_value_and_below_cost_orders_are_held_and_keep_no_stock_for_unknown_skus(database):
    stock(database, "CUP-1", on_hand=10, cost=10_000)
    rules = IntakeRules(high_value_fen=50_000)
    cheap = ingest_channel_order(
        database, one_unit_order("L1", "13700000001", price=9_000), "{}", rules, SYSTEM
    )
    dear = ingest_channel_order(
        database, one_unit_order("H1", "13700000002", price=60_000), "{}", rules, SYSTEM
    )
    unknown = ingest_channel_order(
        database, one_unit_order("U1", "13700000003", sku="NOPE"), "{}", rules, SYSTEM
    )
    assert (cheap.hold, dear.hold, unknown.hold) == (
        HoldReason.BELOW_COST,
        HoldReason.HIGH_VALUE,
        HoldReason.UNKNOWN_SKU,
    )


def test_cancelling_releases_the_reserved_units(database):
    stock(database, "CUP-1", on_hand=1)
    order = one_unit_order("X1", "13600000001")
    ingest_channel_order(database, order, "{}", RULES, SYSTEM)
    cancelled = replace(
        order, status=OrderStatus.CANCELLED, updated_at=order.updated_at + timedelta(minutes=1)
    )
    assert (
        ingest_channel_order(database, cancelled, "{}", RULES, SYSTEM).outcome
        is IntakeOutcome.UPDATED
    )
    with database.read() as session:
        assert session.scalars(select(Sku)).one().reserved == 0


def test_a_high_value_hold_needs_two_different_people_to_release_it(database):
    from backend.actors import Actor, ActorKind
    from backend.orders.holds import HoldOutcome, SecondApproverNeeded, approve_hold

    stock(database, "CUP-1", on_hand=5)
    held = ingest_channel_order(
        database,
        one_unit_order("V1", "13500000001", price=60_000),
        "{}",
        IntakeRules(high_value_fen=50_000),
        SYSTEM,
    )
    first = Actor(ActorKind.STAFF, "小王", role=Role.FINANCE)
    assert approve_hold(database, held.order_id, first) == HoldOutcome.AWAITING_SECOND
    with pytest.raises(SecondApproverNeeded):
        approve_hold(database, held.order_id, first)
    second = approve_hold(
        database, held.order_id, Actor(ActorKind.STAFF, "小李", role=Role.SUPERVISOR)
    )
    assert second == HoldOutcome.RELEASED
    with database.read() as session:
        assert session.get(Order, held.order_id).hold_reason is None
        assert session.scalars(select(Sku)).one().reserved == 1


def test_an_unknown_sku_hold_is_released_once_the_sku_exists(database):
    from backend.actors import Actor, ActorKind
    from backend.orders.holds import HoldOutcome, approve_hold

    held = ingest_channel_order(
        database, one_unit_order("U9", "13500000002", sku="NEW-1"), "{}", RULES, SYSTEM
    )
    staff = Actor(ActorKind.STAFF, "小王", role=Role.SUPPORT)
    assert approve_hold(database, held.order_id, staff) == HoldOutcome.STILL_HELD  # unknown
    stock(database, "NEW-1", on_hand=2)
    assert approve_hold(database, held.order_id, staff) == HoldOutcome.RELEASED
