"""Exchange rules: the price difference and whether the replacement may leave before the parcel.

Pure functions over plain facts, like backend/refunds/rules.py, so every branch is a table row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class ExchangeRules:
    # The customer posts the old unit within this long, or the reserved new one goes back.
    parcel_within: timedelta = timedelta(days=7)
    # Trusted: enough completed orders and no refund for a while (the replacement ships at once).
    trusted_min_orders: int = 3
    trusted_quiet_days: int = 90


class ExchangeCostsMore(Exception):
    """The new variant is dearer than what was paid: 补差价 is not taken online, support helps."""

    def __init__(self, paid_fen: int, price_fen: int) -> None:
        super().__init__(f"variant costs {price_fen} fen, {paid_fen} was paid")
        self.paid_fen, self.price_fen = paid_fen, price_fen


def price_difference(paid_unit_fen: int, variant_price_fen: int | None) -> int:
    """What is refunded for a cheaper variant (0 for the same price); dearer is refused.

    A variant without a list price costs what the customer paid: sizes usually do.
    """
    price = paid_unit_fen if variant_price_fen is None else variant_price_fen
    if price > paid_unit_fen:
        raise ExchangeCostsMore(paid_unit_fen, price)
    return paid_unit_fen - price


def refund_cap(difference_fen: int, paid_fen: int, committed_fen: int) -> int:
    """Never more than was paid, less what is already refunded or on its way."""
    return max(0, min(difference_fen, paid_fen - committed_fen))


@dataclass(frozen=True)
class TrustFacts:
    completed_orders: int  # the customer's other orders delivered or completed
    recent_refunds: int  # refunds (any state but failed) within trusted_quiet_days
    risk_flag: bool


def trust(facts: TrustFacts, rules: ExchangeRules) -> tuple[bool, str]:
    """(trusted, reason code): the first rule that fails names why the replacement waits."""
    if facts.risk_flag:
        return False, "risk_flagged"
    if facts.completed_orders < rules.trusted_min_orders:
        return False, "few_orders"
    if facts.recent_refunds:
        return False, "recent_refund"
    return True, "trusted_customer"
