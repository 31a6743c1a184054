"""Refund auto-approval as a table of rules: pure, configurable, every check reported."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from backend.clock import shanghai_date
from backend.refunds.reasons import DEFAULT_REASONS, ReturnReason, index_reasons

Param = int | str | bool | None


class RefundType(StrEnum):
    REFUND_ONLY = "refund_only"  # 仅退款: the customer keeps the goods
    RETURN_AND_REFUND = "return_and_refund"  # 退货退款


class Outcome(StrEnum):
    AUTO_APPROVE = "auto_approve"
    REVIEW = "review"
    REJECT_INVALID = "reject_invalid"


class NaiveTimestamp(ValueError):
    """A time without a zone reached the rules, which compare aware instants only."""


class AmountNotInFen(TypeError):
    """An amount that is not an integer number of fen (a float or Decimal slipped in)."""


class RefundRulesInvalid(ValueError):
    """A limit in the configuration is negative, which would make every check meaningless."""


@dataclass(frozen=True)
class RefundRules:
    max_auto_amount_fen: int = 20_000
    return_window_days: int = 7
    max_recent_refunds: int = 3
    # The caller counts the customer's earlier refunds over this many days.
    recent_refunds_window_days: int = 30
    reasons: tuple[ReturnReason, ...] = DEFAULT_REASONS
    # A return parcel with no tracking update for this long goes to the staff check queue.
    return_silent_after: timedelta = timedelta(hours=72)
    # The rules version (backend/rulebook) these values come from; 0: the environment's.
    # Stored with each return decision, so the customer sees which rules decided it.
    rules_version: int = field(default=0, compare=False)
    # Where customers send returns (退货地址), shown on the return and exchange pages.
    return_address: str = ""
    _by_code: Mapping[str, ReturnReason] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        limits = (
            self.max_auto_amount_fen,
            self.return_window_days,
            self.max_recent_refunds,
            self.recent_refunds_window_days,
        )
        if any(limit < 0 for limit in limits) or self.return_silent_after <= timedelta(0):
            raise RefundRulesInvalid(limits)
        object.__setattr__(self, "_by_code", index_reasons(self.reasons))

    def reason(self, code: str) -> ReturnReason | None:
        return self._by_code.get(code)

    @property
    def photo_required_reasons(self) -> frozenset[str]:
        return frozenset(code for code, reason in self._by_code.items() if reason.requires_photos)

    @property
    def inspection_required_reasons(self) -> frozenset[str]:
        return frozenset(
            code for code, reason in self._by_code.items() if reason.requires_inspection
        )


@dataclass(frozen=True)
class RefundFacts:
    amount_fen: int
    delivered_at: datetime | None
    now: datetime
    recent_refunds: int  # earlier refunds of this customer within recent_refunds_window_days
    risk_flag: bool
    reason: str
    has_photos: bool
    refund_type: RefundType
    # Photos whose pHash matches one on another order's return, or the catalogue image.
    reused_photos: int = 0
    catalogue_copies: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int):
            raise AmountNotInFen(repr(self.amount_fen))
        for moment in (self.now, self.delivered_at):
            if moment is not None and moment.utcoffset() is None:
                raise NaiveTimestamp(repr(moment))


@dataclass(frozen=True)
class RuleCheck:
    code: str
    passed: bool
    params: Mapping[str, Param]
    on_failure: Outcome


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    checks: tuple[RuleCheck, ...]

    @property
    def failed(self) -> tuple[RuleCheck, ...]:
        return tuple(check for check in self.checks if not check.passed)

    def check(self, code: str) -> RuleCheck:
        return next(check for check in self.checks if check.code == code)


Evaluation = tuple[bool, dict[str, Param]]


@dataclass(frozen=True)
class Rule:
    code: str
    on_failure: Outcome
    evaluate: Callable[[RefundFacts, RefundRules], Evaluation]


def _reason_known(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    return rules.reason(facts.reason) is not None, {"reason": facts.reason}


def _amount_positive(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    return facts.amount_fen > 0, {"amount_fen": facts.amount_fen}


# Reason-dependent rules read an unknown reason as the strictest one, so a typo
# can never be what unlocks auto-approval.
def _photos_provided(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    reason = rules.reason(facts.reason)
    required = reason is None or reason.requires_photos
    passed = facts.has_photos or not required
    return passed, {"reason": facts.reason, "required": required, "has_photos": facts.has_photos}


def _refund_type_allowed(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    reason = rules.reason(facts.reason)
    passed = facts.refund_type == RefundType.RETURN_AND_REFUND or (
        reason is not None and reason.allows_refund_only
    )
    return passed, {"reason": facts.reason, "refund_type": str(facts.refund_type)}


def _amount_within_auto_limit(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    passed = facts.amount_fen <= rules.max_auto_amount_fen
    return passed, {"amount_fen": facts.amount_fen, "max_amount_fen": rules.max_auto_amount_fen}


def days_since_delivery(delivered_at: datetime, now: datetime) -> int:
    """Calendar days in China time: signed on the 1st, the 8th is day 7."""
    # The 7-day window is counted in calendar days from the day after signing, in China
    # time (《网络购买商品七日无理由退货暂行办法》 art. 7), not in 24-hour blocks.
    return (shanghai_date(now) - shanghai_date(delivered_at)).days


def _within_return_window(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    if facts.delivered_at is None:
        # Not signed for yet: the parcel may still arrive, so a person decides.
        return False, {"delivered": False, "days": None, "window_days": rules.return_window_days}
    days = days_since_delivery(facts.delivered_at, facts.now)
    # A delivery stamped slightly in the future (carrier clock skew) is still recent.
    passed = days <= rules.return_window_days
    return passed, {"delivered": True, "days": days, "window_days": rules.return_window_days}


def _few_recent_refunds(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    passed = facts.recent_refunds < rules.max_recent_refunds
    return passed, {
        "recent_refunds": facts.recent_refunds,
        "max_recent_refunds": rules.max_recent_refunds,
        "window_days": rules.recent_refunds_window_days,
    }


def _not_risk_flagged(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    return not facts.risk_flag, {}


def _no_inspection_needed(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    reason = rules.reason(facts.reason)
    needed = reason is None or reason.requires_inspection
    return not needed, {"reason": facts.reason}


# A photo that is a copy is no evidence of this item's state: a person looks, never the rules.
def _photos_not_reused(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    return facts.reused_photos == 0, {"reused_photos": facts.reused_photos}


def _photos_not_catalogue_copies(facts: RefundFacts, rules: RefundRules) -> Evaluation:
    return facts.catalogue_copies == 0, {"catalogue_copies": facts.catalogue_copies}


INVALID, REVIEW = Outcome.REJECT_INVALID, Outcome.REVIEW

# Order is the order the checks are shown in: validity first, then what auto-approval needs.
RULES: tuple[Rule, ...] = (
    Rule("reason_known", INVALID, _reason_known),
    Rule("amount_positive", INVALID, _amount_positive),
    Rule("photos_provided", INVALID, _photos_provided),
    Rule("refund_type_allowed", INVALID, _refund_type_allowed),
    Rule("amount_within_auto_limit", REVIEW, _amount_within_auto_limit),
    Rule("within_return_window", REVIEW, _within_return_window),
    Rule("few_recent_refunds", REVIEW, _few_recent_refunds),
    Rule("not_risk_flagged", REVIEW, _not_risk_flagged),
    Rule("no_inspection_needed", REVIEW, _no_inspection_needed),
    Rule("photos_not_reused", REVIEW, _photos_not_reused),
    Rule("photos_not_catalogue_copies", REVIEW, _photos_not_catalogue_copies),
)


# A parcel the carrier brings back unopened: the window after delivery does not apply
# (nothing was delivered) and there is nothing to inspect before paying.
IN_TRANSIT_RULES: tuple[Rule, ...] = tuple(
    rule for rule in RULES if rule.code not in {"within_return_window", "no_inspection_needed"}
)


def _run(rule: Rule, facts: RefundFacts, rules: RefundRules) -> RuleCheck:
    passed, params = rule.evaluate(facts, rules)
    return RuleCheck(rule.code, passed, MappingProxyType(params), rule.on_failure)


def decide(facts: RefundFacts, rules: RefundRules, table: tuple[Rule, ...] = RULES) -> Decision:
    """Run every rule (no short-circuit, so the page can list them all) and pick the outcome."""
    checks = tuple(_run(rule, facts, rules) for rule in table)
    failures = {check.on_failure for check in checks if not check.passed}
    if Outcome.REJECT_INVALID in failures:
        return Decision(Outcome.REJECT_INVALID, checks)
    if failures:
        return Decision(Outcome.REVIEW, checks)
    return Decision(Outcome.AUTO_APPROVE, checks)
