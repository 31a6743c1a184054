"""The address rules, as a table over an order's facts."""

from datetime import UTC, datetime, timedelta

import pytest

from backend.orders.address_policy import (
    AddressFacts,
    AddressRules,
    ClosedBecause,
    EditMode,
    decide,
)
from backend.orders.lifecycle import OrderStatus

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
RULES = AddressRules()
S = OrderStatus


def facts(status=S.PAID, paid_minutes_ago=30, locked=False, risky=False, edits=0, pending=False):
    return AddressFacts(
        status=status,
        paid_at=None if paid_minutes_ago is None else NOW - timedelta(minutes=paid_minutes_ago),
        address_locked_at=NOW - timedelta(minutes=5) if locked else None,
        risk_flag=risky,
        customer_edits=edits,
        request_pending=pending,
    )


@pytest.mark.parametrize(
    ("given", "mode", "because", "intercept"),
    [
        (facts(), EditMode.FREE, None, False),
        (facts(paid_minutes_ago=None, status=S.PENDING_PAYMENT), EditMode.FREE, None, False),
        (facts(paid_minutes_ago=119), EditMode.FREE, None, False),
        (facts(paid_minutes_ago=120), EditMode.REQUEST, None, False),
        (facts(status=S.PICKING, paid_minutes_ago=600), EditMode.REQUEST, None, False),
        (facts(status=S.PACKED, locked=True), EditMode.LOCKED, None, True),
        (facts(status=S.SHIPPED, locked=True), EditMode.LOCKED, None, True),
        (facts(status=S.SHIPPED, locked=True, risky=True), EditMode.LOCKED, None, False),
        (
            facts(status=S.PACKED, locked=True, pending=True),
            EditMode.LOCKED,
            ClosedBecause.REQUEST_PENDING,
            False,
        ),
        (facts(locked=True), EditMode.CLOSED, ClosedBecause.NOT_OPEN, False),
        (facts(status=S.DELIVERED, locked=True), EditMode.CLOSED, ClosedBecause.NOT_OPEN, False),
        (facts(status=S.CANCELLED), EditMode.CLOSED, ClosedBecause.NOT_OPEN, False),
        (facts(risky=True), EditMode.CLOSED, ClosedBecause.RISKY, False),
        (facts(edits=3), EditMode.CLOSED, ClosedBecause.EDIT_LIMIT, False),
        (facts(edits=2), EditMode.FREE, None, False),
        (facts(pending=True), EditMode.CLOSED, ClosedBecause.REQUEST_PENDING, False),
    ],
)
def test_the_rules(given, mode, because, intercept):
    decision = decide(given, NOW, RULES)
    assert (decision.mode, decision.closed_because) == (mode, because)
    assert decision.can_request_intercept is intercept
    assert decision.can_edit is (mode in (EditMode.FREE, EditMode.REQUEST))


def test_the_countdown_runs_to_the_end_of_the_window():
    decision = decide(facts(paid_minutes_ago=37), NOW, RULES)
    assert decision.remaining(NOW) == timedelta(hours=1, minutes=23)


def test_the_window_is_the_merchants_to_set():
    rules = AddressRules(free_edit_window=timedelta(hours=6), max_customer_edits=1)
    assert decide(facts(paid_minutes_ago=300), NOW, rules).mode is EditMode.FREE
    assert decide(facts(edits=1), NOW, rules).closed_because is ClosedBecause.EDIT_LIMIT
