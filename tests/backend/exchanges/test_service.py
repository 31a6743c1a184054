"""Exchange verbs on a real database: values reloaded between steps, refusals change nothing."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.exchanges import return_leg, service, views
from backend.exchanges.lifecycle import ExchangeStatus, ExchangeTransitionNotAllowed
from backend.exchanges.models import Exchange
from backend.exchanges.rules import ExchangeCostsMore, ExchangeRules
from backend.fulfilment import packing
from backend.notifications.models import Notification, NotificationEvent
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import HoldReason, Order, Reservation, ReservationState, Sku
from backend.refunds import payouts
from backend.refunds.models import Refund
from backend.refunds.rules import RefundRules
from backend.staff.models import Role
from tests.exchange_setup import customer_of, delivered_shirt_order, seed_shirts

RULES = ExchangeRules()
REFUND_RULES = RefundRules()
WAREHOUSE = Actor(ActorKind.STAFF, "仓库小张", role=Role.WAREHOUSE)


def exchange(database, order, line_id, to_sku_id, **kwargs):
    return service.request_exchange(
        database,
        order.id,
        order.customer_id,
        line_id,
        to_sku_id,
        customer_of(order),
        rules=kwargs.pop("rules", RULES),
        refund_rules=REFUND_RULES,
        **kwargs,
    )


def post_back(database, exchange_id, order, waybill):
    return_leg.send_back(
        database, exchange_id, order.customer_id, "shunfeng", waybill, customer_of(order)
    )


def reserved(database, sku_id):
    with database.read() as session:
        return session.get(Sku, sku_id).reserved


def exchange_row(database, exchange_id):
    with database.read() as session:
        return session.get(Exchange, exchange_id)


def order_row(database, order_id):
    with database.read() as session:
        return session.get(Order, order_id)


def count(database, model):
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_the_happy_path_reserves_holds_releases_at_the_first_scan_and_refunds_nothing(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    exchange_id = exchange(database, order, line, skus["TEE-L-WHITE"])
    row = exchange_row(database, exchange_id)
    assert row.status == ExchangeStatus.AWAITING_PARCEL
    assert (row.difference_fen, row.trusted, row.trust_reason) == (0, False, "few_orders")
    assert reserved(database, skus["TEE-L-WHITE"]) == 1
    replacement = order_row(database, row.replacement_order_id)
    assert replacement.status == OrderStatus.PAID
    assert replacement.hold_reason == HoldReason.AWAITING_RETURN
    assert replacement.customer_id == order.customer_id
    assert replacement.current_address_id is not None

    return_leg.send_back(
        database, exchange_id, order.customer_id, "shunfeng", "SF1234567890", customer_of(order)
    )
    row = exchange_row(database, exchange_id)
    assert row.status == ExchangeStatus.PARCEL_SENT and row.return_shipment_id is not None

    payload = {"shipment_id": row.return_shipment_id, "status": "picked_up"}
    return_leg.on_return_parcel(database, payload)
    return_leg.on_return_parcel(database, {**payload, "status": "in_transit"})  # a later scan
    assert exchange_row(database, exchange_id).status == ExchangeStatus.COLLECTED
    assert order_row(database, row.replacement_order_id).hold_reason is None
    with database.read() as session:
        events = session.scalars(
            select(Notification.event).where(Notification.order_id == order.id)
        ).all()
    assert events.count(NotificationEvent.EXCHANGE_RELEASED) == 1

    assert return_leg.receive_exchange(database, exchange_id, WAREHOUSE) == 0
    assert exchange_row(database, exchange_id).status == ExchangeStatus.DONE
    assert count(database, Refund) == 0
    with database.read() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject == "exchange")
        ).all()
    assert actions == [
        "exchange.requested",
        "exchange.sent_back",
        "exchange.collected",
        "exchange.received",
    ]


def test_an_out_of_stock_variant_is_refused_and_nothing_is_reserved_or_created(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    orders_before = count(database, Order)
    reservations_before = count(database, Reservation)
    with pytest.raises(service.VariantOutOfStock):
        exchange(database, order, line, skus["TEE-L-BLACK"])
    assert count(database, Exchange) == 0
    assert count(database, Order) == orders_before
    assert count(database, Reservation) == reservations_before
    assert reserved(database, skus["TEE-L-BLACK"]) == 0


def test_a_dearer_variant_another_product_or_an_undelivered_order_is_refused(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    with pytest.raises(ExchangeCostsMore):
        exchange(database, order, line, skus["TEE-XL-RED"])
    with pytest.raises(service.VariantNotOfProduct):
        exchange(database, order, line, skus["TEA-1"])
    with pytest.raises(service.VariantNotOfProduct):
        exchange(database, order, line, skus["TEE-M-WHITE"])  # the same variant
    shipped, shipped_line = delivered_shirt_order(database, "13900000002", OrderStatus.SHIPPED)
    with pytest.raises(service.ExchangeNotAllowed) as refused:
        exchange(database, shipped, shipped_line, skus["TEE-L-WHITE"])
    assert refused.value.code == "not_delivered"
    late = utcnow() + timedelta(days=REFUND_RULES.return_window_days + 1)
    with pytest.raises(service.ExchangeNotAllowed) as refused:
        exchange(database, order, line, skus["TEE-L-WHITE"], now=late)
    assert refused.value.code == "window_closed"
    assert count(database, Exchange) == 0
    assert reserved(database, skus["TEE-L-WHITE"]) == 0


def test_someone_elses_order_is_not_found(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    other, _ = delivered_shirt_order(database, "13900000003")
    with pytest.raises(service.ExchangeNotFound):
        service.request_exchange(
            database,
            order.id,
            other.customer_id,
            line,
            skus["TEE-L-WHITE"],
            customer_of(other),
            rules=RULES,
            refund_rules=REFUND_RULES,
        )
    assert count(database, Exchange) == 0


def test_the_same_line_is_exchanged_once_even_after_a_cancel(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    first = exchange(database, order, line, skus["TEE-L-WHITE"])
    with pytest.raises(service.AlreadyExchanged):
        exchange(database, order, line, skus["TEE-S-GREY"])
    service.cancel_exchange(database, first, order.customer_id, customer_of(order))
    with pytest.raises(service.AlreadyExchanged):
        exchange(database, order, line, skus["TEE-S-GREY"])
    assert reserved(database, skus["TEE-S-GREY"]) == 0


def test_two_exchange_posts_at_once_give_one_exchange_and_one_reserved_unit(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def post():
        barrier.wait()
        try:
            outcomes.append(exchange(database, order, line, skus["TEE-L-WHITE"]))
        except service.AlreadyExchanged as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, int) for o in outcomes) == 1
    assert sum(isinstance(o, service.AlreadyExchanged) for o in outcomes) == 1
    assert count(database, Exchange) == 1
    assert reserved(database, skus["TEE-L-WHITE"]) == 1


def test_cancelling_releases_the_reserved_unit_exactly_once(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    exchange_id = exchange(database, order, line, skus["TEE-L-WHITE"])
    service.cancel_exchange(database, exchange_id, order.customer_id, customer_of(order))
    assert reserved(database, skus["TEE-L-WHITE"]) == 0
    row = exchange_row(database, exchange_id)
    assert row.status == ExchangeStatus.CANCELLED
    assert order_row(database, row.replacement_order_id).status == OrderStatus.CANCELLED
    with pytest.raises(ExchangeTransitionNotAllowed):
        service.cancel_exchange(database, exchange_id, order.customer_id, customer_of(order))
    assert reserved(database, skus["TEE-L-WHITE"]) == 0
    with database.read() as session:
        states = session.scalars(
            select(Reservation.state).where(Reservation.order_id == row.replacement_order_id)
        ).all()
    assert states == [ReservationState.RELEASED]


def test_a_posted_parcel_cannot_be_cancelled(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    exchange_id = exchange(database, order, line, skus["TEE-L-WHITE"])
    return_leg.send_back(
        database, exchange_id, order.customer_id, "shunfeng", "SF1234567891", customer_of(order)
    )
    with pytest.raises(ExchangeTransitionNotAllowed):
        service.cancel_exchange(database, exchange_id, order.customer_id, customer_of(order))
    assert reserved(database, skus["TEE-L-WHITE"]) == 1


def test_no_parcel_by_the_deadline_expires_the_exchange_once(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    exchange_id = exchange(database, order, line, skus["TEE-L-WHITE"])
    assert service.expire_exchanges(database) == 0
    later = utcnow() + RULES.parcel_within + timedelta(minutes=1)
    assert service.expire_exchanges(database, later) == 1
    assert service.expire_exchanges(database, later) == 0
    assert exchange_row(database, exchange_id).status == ExchangeStatus.EXPIRED
    assert reserved(database, skus["TEE-L-WHITE"]) == 0


def test_a_cheaper_variant_refunds_the_difference_never_more_than_is_left(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    exchange_id = exchange(database, order, line, skus["TEE-S-GREY"])
    assert exchange_row(database, exchange_id).difference_fen == 2_000
    # Meanwhile most of the payment went back for something else: only 1000 fen is left.
    with database.write() as session:
        payouts.start_refund(session, order.id, order.paid_fen - 1_000, Actor.system("test"))
    post_back(database, exchange_id, order, "SF2000000001")
    assert return_leg.receive_exchange(database, exchange_id, WAREHOUSE) == 1_000
    with database.read() as session:
        committed = payouts.committed_fen(session, order.id)
    assert committed == order.paid_fen
    assert exchange_row(database, exchange_id).refunded_fen == 1_000


def test_a_cheaper_variant_refunds_the_whole_difference_when_it_fits(database):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    exchange_id = exchange(database, order, line, skus["TEE-S-GREY"])
    post_back(database, exchange_id, order, "SF2000000002")
    assert return_leg.receive_exchange(database, exchange_id, WAREHOUSE) == 2_000
    with database.read() as session:
        amounts = session.scalars(
            select(Refund.amount_fen).where(Refund.order_id == order.id)
        ).all()
    assert amounts == [2_000]
    with pytest.raises(ExchangeTransitionNotAllowed):
        return_leg.receive_exchange(database, exchange_id, WAREHOUSE)
    assert count(database, Refund) == 1


def test_a_trusted_customers_replacement_leaves_at_once(database):
    skus = seed_shirts(database)
    for _ in range(3):
        delivered_shirt_order(database, "13800138000")
    order, line = delivered_shirt_order(database, "13800138000")
    exchange_id = exchange(database, order, line, skus["TEE-L-WHITE"])
    row = exchange_row(database, exchange_id)
    assert (row.trusted, row.trust_reason) == (True, "trusted_customer")
    assert order_row(database, row.replacement_order_id).hold_reason is None
    later = utcnow() + RULES.parcel_within + timedelta(minutes=1)
    assert service.expire_exchanges(database, later) == 0  # support follows it up instead


def test_the_packer_cannot_ship_the_replacement_until_the_carrier_collects_the_old_unit(
    database,
):
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database)
    exchange_id = exchange(database, order, line, skus["TEE-L-WHITE"])
    replacement_id = exchange_row(database, exchange_id).replacement_order_id
    held = packing.pack_form(database, replacement_id)
    assert held is not None and not held.open
    assert [pack_line.sku for pack_line in held.lines] == ["TEE-L-WHITE"]
    post_back(database, exchange_id, order, "SF3000000001")
    shipment_id = exchange_row(database, exchange_id).return_shipment_id
    return_leg.on_return_parcel(database, {"shipment_id": shipment_id, "status": "picked_up"})
    released = packing.pack_form(database, replacement_id)
    assert released is not None and released.open


def test_the_staff_queue_holds_parcels_to_sign_in_and_trusted_exchanges_gone_overdue(database):
    skus = seed_shirts(database)
    for _ in range(3):
        delivered_shirt_order(database, "13800138000")
    trusted_order, trusted_line = delivered_shirt_order(database, "13800138000")
    trusted_id = exchange(database, trusted_order, trusted_line, skus["TEE-L-WHITE"])
    waiting_order, waiting_line = delivered_shirt_order(database, "13900000011")
    exchange(database, waiting_order, waiting_line, skus["TEE-L-WHITE"])
    posted_order, posted_line = delivered_shirt_order(database, "13900000012")
    posted_id = exchange(database, posted_order, posted_line, skus["TEE-S-GREY"])
    post_back(database, posted_id, posted_order, "SF4000000001")

    assert [e.exchange_id for e in views.list_exchange_queue(database)] == [posted_id]
    later = utcnow() + RULES.parcel_within + timedelta(minutes=1)
    queue = {e.exchange_id: e for e in views.list_exchange_queue(database, later)}
    assert set(queue) == {trusted_id, posted_id}  # the untrusted one simply expires
    assert queue[trusted_id].overdue and not queue[posted_id].overdue
    assert queue[posted_id].return_tracking_no == "SF4000000001"
