"""The order state machine, walked over every (status, action) pair."""

import pytest

from backend.orders.lifecycle import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    OrderAction,
    OrderStatus,
    TransitionNotAllowed,
    allowed_actions,
    can,
    next_status,
)

S, A = OrderStatus, OrderAction

EXPECTED = {
    (S.PENDING_PAYMENT, A.PAY): S.PAID,
    (S.PENDING_PAYMENT, A.CANCEL): S.CANCELLED,
    (S.PAID, A.START_PICKING): S.PICKING,
    (S.PAID, A.PACK): S.PACKED,
    (S.PAID, A.CANCEL): S.CANCELLED,
    (S.PICKING, A.PACK): S.PACKED,
    (S.PICKING, A.CANCEL): S.CANCELLED,
    (S.PACKED, A.SHIP): S.SHIPPED,
    (S.PACKED, A.SHIP_PART): S.PARTIALLY_SHIPPED,
    (S.PACKED, A.CANCEL_AFTER_PACK): S.CANCELLED,
    (S.PARTIALLY_SHIPPED, A.SHIP): S.SHIPPED,
    (S.SHIPPED, A.DELIVER): S.DELIVERED,
    (S.SHIPPED, A.RETURN_TO_SENDER): S.REFUNDED,
    (S.DELIVERED, A.COMPLETE): S.COMPLETED,
    (S.DELIVERED, A.OPEN_AFTER_SALE): S.AFTER_SALE,
    (S.COMPLETED, A.OPEN_AFTER_SALE): S.AFTER_SALE,
    (S.AFTER_SALE, A.CLOSE_AFTER_SALE): S.COMPLETED,
    (S.AFTER_SALE, A.REFUND_IN_FULL): S.REFUNDED,
}

ALL_PAIRS = [(status, action) for status in OrderStatus for action in OrderAction]


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS)
def test_every_status_and_action_pair_moves_exactly_as_the_table_says(status, action):
    expected = EXPECTED.get((status, action))
    assert can(status, action) is (expected is not None)
    assert (action in allowed_actions(status)) is (expected is not None)
    if expected is None:
        with pytest.raises(TransitionNotAllowed):
            next_status(status, action)
    else:
        assert next_status(status, action) is expected


def test_the_table_lists_every_status():
    assert set(TRANSITIONS) == set(OrderStatus)


def test_cancelled_and_refunded_are_the_only_terminal_statuses():
    assert {S.CANCELLED, S.REFUNDED} == TERMINAL_STATUSES


def test_a_packed_order_can_no_longer_be_cancelled_plainly():
    assert not can(S.PACKED, A.CANCEL)
    # Only the cancel that voids the waybill first; never once a parcel has left.
    assert [s for s in S if can(s, A.CANCEL_AFTER_PACK)] == [S.PACKED]


def test_every_status_is_reachable_from_pending_payment():
    seen, frontier = {S.PENDING_PAYMENT}, [S.PENDING_PAYMENT]
    while frontier:
        for target in TRANSITIONS[frontier.pop()].values():
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(OrderStatus)
