"""Cancel through the service: the path per state, stock back once, one refund, one row."""

from __future__ import annotations

import threading
from itertools import count

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.orders.channels import CanonicalAddress, CanonicalLine, CanonicalOrder
from backend.orders.intake import IntakeRules, ingest_channel_order
from backend.orders.inventory import save_sku
from backend.orders.lifecycle import OrderAction, OrderStatus
from backend.orders.models import Order, PaymentMethod, Reservation, ReservationState, SalesChannel
from backend.orders.service import apply_action
from backend.refunds import cancellation
from backend.refunds.cancel_lifecycle import (
    TRANSITIONS,
    CancelAction,
    CancelPath,
    CancelStatus,
    CancelTransitionNotAllowed,
    next_status,
)
from backend.refunds.models import OrderCancellation, Refund
from backend.staff.models import Role
from backend.staff.permissions import PermissionDenied
from tests.factories import SYSTEM, make_order

S, A = CancelStatus, CancelAction
EXPECTED = {
    (S.REFUNDING, A.REFUND_SUCCEEDED): S.DONE,
    (S.REFUNDING, A.REFUND_FAILED): S.REFUND_FAILED,
    (S.REFUND_FAILED, A.RETRY_REFUND): S.REFUNDING,
}
_numbers = count(1)


@pytest.mark.parametrize("status", list(S), ids=str)
@pytest.mark.parametrize("action", list(A), ids=str)
def test_every_status_and_action_pair_moves_exactly_as_the_table_says(status, action):
    expected = EXPECTED.get((status, action))
    if expected is None:
        with pytest.raises(CancelTransitionNotAllowed):
            next_status(status, action)
    else:
        assert next_status(status, action) == expected


def test_the_table_lists_every_status_and_done_is_the_only_end():
    assert set(TRANSITIONS) == set(S)
    assert [s for s, moves in TRANSITIONS.items() if not moves] == [S.DONE]


P, M = CancelPath, PaymentMethod
PATHS = {
    OrderStatus.PENDING_PAYMENT: P.UNPAID,
    OrderStatus.PAID: P.PAID,
    OrderStatus.PICKING: P.PAID,
    OrderStatus.PACKED: P.PACKED,
    OrderStatus.PARTIALLY_SHIPPED: P.IN_TRANSIT,
    OrderStatus.SHIPPED: P.IN_TRANSIT,
}


@pytest.mark.parametrize("status", list(OrderStatus), ids=str)
def test_the_path_follows_the_order_state_and_the_way_it_was_paid(status):
    expected = PATHS.get(status, P.NONE)
    assert cancellation.decide_path(status, M.WECHAT_PAY) == expected
    assert cancellation.decide_path(status, M.ALIPAY) == expected
    # The marketplace collected the money: its own after-sale, whatever the state.
    assert cancellation.decide_path(status, M.PLATFORM) == (
        P.NONE if expected == P.NONE else P.PLATFORM
    )
    # Paid by a way no gateway refunds: a person handles it, not this page.
    bank = cancellation.decide_path(status, M.BANK_CARD)
    assert bank == (expected if expected in (P.UNPAID, P.IN_TRANSIT, P.NONE) else P.NONE)


def customer(order) -> Actor:
    return Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="portal")


def reserved_order(database, status=OrderStatus.PAID):
    """An own-shop order paid by WeChat Pay, reserved by intake like any real order."""
    number = next(_numbers)
    phone = f"1390000{number:04d}"
    order = CanonicalOrder(
        channel=SalesChannel.OWN_SHOP,
        channel_order_no=f"OWN-{number}",
        status=OrderStatus.PENDING_PAYMENT if status == OrderStatus.PENDING_PAYMENT else status,
        raw_status="x",
        buyer_name="买家",
        buyer_phone=phone,
        address=CanonicalAddress("买家", phone, "浙江省", "杭州市", "西湖区", "文三路1号"),
        lines=(CanonicalLine("TEA-C", "龙井", 2, 5_000),),
        total_fen=10_000,
        placed_at=utcnow(),
        paid_at=utcnow(),
        updated_at=utcnow(),
        payment_method=PaymentMethod.WECHAT_PAY,
    )
    result = ingest_channel_order(database, order, "{}", IntakeRules(), SYSTEM)
    if status == OrderStatus.PACKED:
        apply_action(database, result.order_id, OrderAction.PACK, SYSTEM)
    with database.read() as session:
        row = session.get(Order, result.order_id)
        session.expunge(row)
        return row


def available(database) -> int:
    """Units held reserved for orders (none are on sale to others while they are)."""
    with database.read() as session:
        reserved = session.scalar(
            select(func.coalesce(func.sum(Reservation.quantity), 0)).where(
                Reservation.state == ReservationState.RESERVED
            )
        )
    return int(reserved)


def cancellations(database, order_id):
    with database.read() as session:
        rows = session.scalars(
            select(OrderCancellation).where(OrderCancellation.order_id == order_id)
        ).all()
        refunds = session.scalars(select(Refund).where(Refund.order_id == order_id)).all()
        status = session.get(Order, order_id).status
        return rows, refunds, status


@pytest.fixture
def stock(database):
    save_sku(database, "TEA-C", "龙井", 10, None, SYSTEM)


def test_an_unpaid_order_is_cancelled_at_once_and_its_units_released_once(database, stock):
    order = reserved_order(database, OrderStatus.PENDING_PAYMENT)
    assert available(database) == 2
    outcome = cancellation.cancel_order(database, None, order.id, customer(order), "other")
    assert (outcome.path, outcome.status, outcome.refund_fen) == (P.UNPAID, S.DONE, 0)
    again = cancellation.cancel_order(database, None, order.id, customer(order), "other")
    assert again.repeated and again.status == S.DONE
    rows, refunds, status = cancellations(database, order.id)
    assert len(rows) == 1 and refunds == [] and status == OrderStatus.CANCELLED
    assert available(database) == 0


def test_a_paid_order_is_cancelled_released_and_refunded_in_full_once(database, stock):
    order = reserved_order(database)
    outcome = cancellation.cancel_order(database, None, order.id, customer(order), "too_slow")
    assert (outcome.path, outcome.status, outcome.refund_fen) == (P.PAID, S.REFUNDING, 10_000)
    cancellation.cancel_order(database, None, order.id, customer(order), "too_slow")
    rows, refunds, status = cancellations(database, order.id)
    assert status == OrderStatus.CANCELLED and available(database) == 0
    assert [(r.amount_fen, r.return_id) for r in refunds] == [(10_000, None)]
    assert rows[0].refund_id == refunds[0].id and rows[0].reason == "too_slow"


def test_racing_cancels_make_one_cancel_and_one_refund(database, stock):
    order = reserved_order(database)
    outcomes, errors = [], []

    def cancel():
        try:
            outcomes.append(
                cancellation.cancel_order(database, None, order.id, customer(order), "other")
            )
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=cancel) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(o.repeated for o in outcomes) == [False] + [True] * 5
    rows, refunds, _status = cancellations(database, order.id)
    assert len(rows) == 1 and len(refunds) == 1 and available(database) == 0


def test_a_packed_order_keeps_its_units_until_the_warehouse_has_unpacked_them(database, stock):
    order = reserved_order(database, OrderStatus.PACKED)
    outcome = cancellation.cancel_order(database, None, order.id, customer(order), "address")
    assert outcome.path == P.PACKED and outcome.refund_fen == 10_000
    rows, _refunds, status = cancellations(database, order.id)
    assert status == OrderStatus.CANCELLED and available(database) == 2
    (waiting,) = cancellation.list_waiting_for_staff(database)
    assert waiting.needs_unpack and waiting.public_no == order.public_no
    packer = Actor(ActorKind.STAFF, "仓库小张", role=Role.WAREHOUSE)
    with pytest.raises(PermissionDenied):
        cancellation.confirm_unpacked(database, rows[0].id, customer(order))
    assert cancellation.confirm_unpacked(database, rows[0].id, packer) is True
    assert cancellation.confirm_unpacked(database, rows[0].id, packer) is False
    assert available(database) == 0
    assert cancellation.list_waiting_for_staff(database) == []


@pytest.mark.parametrize(
    ("status", "method", "path"),
    [
        (OrderStatus.SHIPPED, PaymentMethod.WECHAT_PAY, P.IN_TRANSIT),
        (OrderStatus.DELIVERED, PaymentMethod.WECHAT_PAY, P.NONE),
        (OrderStatus.PAID, PaymentMethod.PLATFORM, P.PLATFORM),
    ],
)
def test_what_can_not_be_cancelled_here_is_refused_and_nothing_changes(
    database, status, method, path
):
    order = make_order(database, status=status, payment_method=method)
    with pytest.raises(cancellation.CancelNotAllowed) as refused:
        cancellation.cancel_order(database, None, order.id, customer(order), "other")
    assert refused.value.path == path
    rows, refunds, after = cancellations(database, order.id)
    assert rows == [] and refunds == [] and after == status


def test_a_customer_can_not_cancel_someone_elses_order_nor_with_a_made_up_reason(database):
    mine, theirs = make_order(database), make_order(database)
    with pytest.raises(cancellation.CancelNotYours):
        cancellation.cancel_order(database, None, theirs.id, customer(mine), "other")
    with pytest.raises(cancellation.CancelReasonInvalid):
        cancellation.cancel_order(database, None, mine.id, customer(mine), "<script>")
    warehouse = Actor(ActorKind.STAFF, "仓库小张", role=Role.WAREHOUSE)
    with pytest.raises(PermissionDenied):
        cancellation.cancel_order(database, None, mine.id, warehouse, "other")
    assert cancellations(database, mine.id)[:2] == ([], [])
    assert cancellations(database, theirs.id)[:2] == ([], [])
