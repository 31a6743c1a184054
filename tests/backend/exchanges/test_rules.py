"""Exchange rules as tables: the price difference, the refund cap and the trust rule."""

import pytest

from backend.exchanges.rules import (
    ExchangeCostsMore,
    ExchangeRules,
    TrustFacts,
    price_difference,
    refund_cap,
    trust,
)


@pytest.mark.parametrize(
    ("paid", "price", "difference"),
    [(9900, None, 0), (9900, 9900, 0), (9900, 7900, 2000), (9900, 0, 9900)],
)
def test_a_cheaper_or_same_priced_variant_leaves_a_difference_to_refund(paid, price, difference):
    assert price_difference(paid, price) == difference


def test_a_dearer_variant_is_refused():
    with pytest.raises(ExchangeCostsMore):
        price_difference(9900, 9901)


@pytest.mark.parametrize(
    ("difference", "paid", "committed", "cap"),
    [(2000, 9900, 0, 2000), (2000, 9900, 8900, 1000), (2000, 9900, 9900, 0), (0, 9900, 0, 0)],
)
def test_the_refund_never_exceeds_what_is_left_of_the_payment(difference, paid, committed, cap):
    assert refund_cap(difference, paid, committed) == cap


RULES = ExchangeRules(trusted_min_orders=3)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (TrustFacts(5, 0, False), (True, "trusted_customer")),
        (TrustFacts(3, 0, False), (True, "trusted_customer")),
        (TrustFacts(2, 0, False), (False, "few_orders")),
        (TrustFacts(5, 1, False), (False, "recent_refund")),
        (TrustFacts(5, 0, True), (False, "risk_flagged")),
    ],
)
def test_trust_needs_orders_no_recent_refund_and_no_risk_flag(facts, expected):
    assert trust(facts, RULES) == expected
