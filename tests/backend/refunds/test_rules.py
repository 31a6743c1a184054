"""The refund auto-approval rules, each one walked passing and failing."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backend.refunds.reasons import (
    DEFAULT_REASONS,
    DuplicateReasonCode,
    ReasonCode,
    ReturnReason,
)
from backend.refunds.rules import (
    RULES,
    AmountNotInFen,
    NaiveTimestamp,
    Outcome,
    RefundFacts,
    RefundRules,
    RefundRulesInvalid,
    RefundType,
    decide,
)

NOW = datetime(2025, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
AUTO, REVIEW, INVALID = Outcome.AUTO_APPROVE, Outcome.REVIEW, Outcome.REJECT_INVALID
DEFAULTS = RefundRules()

# A request every rule is happy with: small, recent, photographed damage.
BASE = RefundFacts(
    amount_fen=9_900,
    delivered_at=NOW - timedelta(days=2),
    now=NOW,
    recent_refunds=0,
    risk_flag=False,
    reason=ReasonCode.DAMAGED,
    has_photos=True,
    refund_type=RefundType.RETURN_AND_REFUND,
)


def shanghai(text: str) -> datetime:
    """A Shanghai wall-clock time as an aware UTC instant."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


FAILING = [
    ("reason_known", {"reason": "bored"}, INVALID, {"reason_known", "no_inspection_needed"}),
    ("amount_positive", {"amount_fen": 0}, INVALID, {"amount_positive"}),
    ("amount_positive", {"amount_fen": -100}, INVALID, {"amount_positive"}),
    ("photos_provided", {"has_photos": False}, INVALID, {"photos_provided"}),
    (
        "refund_type_allowed",
        {"reason": ReasonCode.NO_REASON_7_DAYS, "refund_type": RefundType.REFUND_ONLY},
        INVALID,
        {"refund_type_allowed"},
    ),
    ("amount_within_auto_limit", {"amount_fen": 20_001}, REVIEW, {"amount_within_auto_limit"}),
    ("within_return_window", {"delivered_at": None}, REVIEW, {"within_return_window"}),
    (
        "within_return_window",
        {"delivered_at": NOW - timedelta(days=8)},
        REVIEW,
        {"within_return_window"},
    ),
    ("few_recent_refunds", {"recent_refunds": 3}, REVIEW, {"few_recent_refunds"}),
    ("not_risk_flagged", {"risk_flag": True}, REVIEW, {"not_risk_flagged"}),
    ("no_inspection_needed", {"reason": ReasonCode.QUALITY}, REVIEW, {"no_inspection_needed"}),
    (
        "no_inspection_needed",
        {"reason": ReasonCode.NOT_AS_DESCRIBED},
        REVIEW,
        {"no_inspection_needed"},
    ),
    ("photos_not_reused", {"reused_photos": 1}, REVIEW, {"photos_not_reused"}),
    (
        "photos_not_catalogue_copies",
        {"catalogue_copies": 2},
        REVIEW,
        {"photos_not_catalogue_copies"},
    ),
]

PASSING = [
    ("amount_positive", {"amount_fen": 1}),
    ("photos_provided", {"reason": ReasonCode.NO_REASON_7_DAYS, "has_photos": False}),
    ("photos_provided", {"reason": ReasonCode.CHANGED_MIND, "has_photos": False}),
    ("refund_type_allowed", {"refund_type": RefundType.REFUND_ONLY}),
    ("refund_type_allowed", {"reason": ReasonCode.MISSING_ITEM}),
    ("amount_within_auto_limit", {"amount_fen": 20_000}),
    ("within_return_window", {"delivered_at": NOW - timedelta(days=7)}),
    ("within_return_window", {"delivered_at": NOW + timedelta(hours=1)}),
    ("few_recent_refunds", {"recent_refunds": 2}),
    ("reason_known", {"reason": ReasonCode.WRONG_ITEM}),
    ("not_risk_flagged", {"risk_flag": False}),
    ("no_inspection_needed", {"reason": ReasonCode.DAMAGED}),
    ("photos_not_reused", {"reused_photos": 0}),
    ("photos_not_catalogue_copies", {"catalogue_copies": 0}),
]


def test_the_base_request_is_auto_approved_with_every_check_passed() -> None:
    decision = decide(BASE, DEFAULTS)
    assert decision.outcome is AUTO
    assert decision.failed == ()
    assert [check.code for check in decision.checks] == [rule.code for rule in RULES]


@pytest.mark.parametrize(("rule", "changes", "outcome", "failed"), FAILING)
def test_each_rule_failing_sets_the_outcome_and_names_itself(
    rule: str, changes: dict[str, object], outcome: Outcome, failed: set[str]
) -> None:
    decision = decide(replace(BASE, **changes), DEFAULTS)  # type: ignore[arg-type]
    assert decision.outcome is outcome
    assert {check.code for check in decision.failed} == failed
    assert decision.check(rule).on_failure is outcome
    assert len(decision.checks) == len(RULES)


@pytest.mark.parametrize(("rule", "changes"), PASSING)
def test_each_rule_passing_at_its_boundary_keeps_auto_approval(
    rule: str, changes: dict[str, object]
) -> None:
    decision = decide(replace(BASE, **changes), DEFAULTS)  # type: ignore[arg-type]
    assert decision.check(rule).passed
    assert decision.outcome is AUTO


def test_every_rule_in_the_table_is_covered_both_ways() -> None:
    codes = {rule.code for rule in RULES}
    assert {row[0] for row in FAILING} == codes
    assert {row[0] for row in PASSING} == codes


def test_a_350_yuan_request_goes_to_review_saying_why() -> None:
    decision = decide(replace(BASE, amount_fen=35_000), DEFAULTS)
    assert decision.outcome is REVIEW
    (failed,) = decision.failed
    assert failed.code == "amount_within_auto_limit"
    assert dict(failed.params) == {"amount_fen": 35_000, "max_amount_fen": 20_000}
    window = decision.check("within_return_window")
    assert window.passed
    assert dict(window.params) == {"delivered": True, "days": 2, "window_days": 7}
    recent = decision.check("few_recent_refunds")
    assert dict(recent.params) == {"recent_refunds": 0, "max_recent_refunds": 3, "window_days": 30}


def test_invalid_wins_over_review_when_both_fail() -> None:
    decision = decide(replace(BASE, amount_fen=35_000, has_photos=False), DEFAULTS)
    assert decision.outcome is INVALID
    assert {check.code for check in decision.failed} == {
        "photos_provided",
        "amount_within_auto_limit",
    }


WINDOW_EDGES = [
    # Signed late on the 1st: the 8th is day 7 until midnight China time, then day 8.
    ("2025-03-01T23:30:00", "2025-03-08T23:59:59", 7, True),
    ("2025-03-01T23:30:00", "2025-03-09T00:00:30", 8, False),
    # 20:00 UTC on the 1st is already the 2nd in Shanghai.
    ("2025-03-02T04:00:00", "2025-03-09T12:00:00", 7, True),
    ("2025-03-01T00:05:00", "2025-03-01T00:10:00", 0, True),
]


@pytest.mark.parametrize(("delivered", "now", "days", "passed"), WINDOW_EDGES)
def test_the_return_window_counts_calendar_days_in_china_time(
    delivered: str, now: str, days: int, passed: bool
) -> None:
    facts = replace(BASE, delivered_at=shanghai(delivered), now=shanghai(now))
    check = decide(facts, DEFAULTS).check("within_return_window")
    assert (check.params["days"], check.passed) == (days, passed)


def test_an_unknown_reason_is_read_as_the_strictest_one() -> None:
    facts = replace(BASE, reason="bored", has_photos=False, refund_type=RefundType.REFUND_ONLY)
    decision = decide(facts, DEFAULTS)
    assert decision.outcome is INVALID
    assert {check.code for check in decision.failed} == {
        "reason_known",
        "photos_provided",
        "refund_type_allowed",
        "no_inspection_needed",
    }


CONFIGURED = [
    (RefundRules(max_auto_amount_fen=50_000), {"amount_fen": 35_000}, AUTO),
    (RefundRules(max_auto_amount_fen=5_000), {"amount_fen": 9_900}, REVIEW),
    (RefundRules(return_window_days=15), {"delivered_at": NOW - timedelta(days=10)}, AUTO),
    (RefundRules(max_recent_refunds=1), {"recent_refunds": 1}, REVIEW),
    (RefundRules(max_recent_refunds=0), {"recent_refunds": 0}, REVIEW),
    (
        RefundRules(reasons=(ReturnReason("damaged", "破损", "Damaged"),)),
        {"has_photos": False},
        AUTO,
    ),
    (
        RefundRules(
            reasons=(ReturnReason("damaged", "破损", "Damaged", requires_inspection=True),)
        ),
        {},
        REVIEW,
    ),
]


@pytest.mark.parametrize(("rules", "changes", "outcome"), CONFIGURED)
def test_the_limits_and_reasons_come_from_the_configuration(
    rules: RefundRules, changes: dict[str, object], outcome: Outcome
) -> None:
    assert decide(replace(BASE, **changes), rules).outcome is outcome  # type: ignore[arg-type]


def test_the_default_configuration_lists_which_reasons_need_photos_and_inspection() -> None:
    rules = RefundRules()
    assert rules.photo_required_reasons == {
        "damaged",
        "wrong_item",
        "missing_item",
        "quality",
        "not_as_described",
    }
    assert rules.inspection_required_reasons == {"quality", "not_as_described"}
    assert (rules.max_auto_amount_fen, rules.return_window_days) == (20_000, 7)
    assert (rules.max_recent_refunds, rules.recent_refunds_window_days) == (3, 30)


BAD_FACTS = [
    ({"amount_fen": 99.0}, AmountNotInFen),
    ({"amount_fen": True}, AmountNotInFen),
    ({"now": datetime(2025, 3, 10, 12, 0)}, NaiveTimestamp),  # naive on purpose
    ({"delivered_at": datetime(2025, 3, 9, 12, 0)}, NaiveTimestamp),
]


@pytest.mark.parametrize(("changes", "error"), BAD_FACTS)
def test_facts_refuse_floats_and_naive_times(
    changes: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        replace(BASE, **changes)  # type: ignore[arg-type]


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(RefundRulesInvalid):
        RefundRules(max_auto_amount_fen=-1)


def test_a_reason_table_with_a_repeated_code_is_refused() -> None:
    with pytest.raises(DuplicateReasonCode):
        RefundRules(reasons=(*DEFAULT_REASONS, ReturnReason("damaged", "破损", "Damaged")))


def test_check_params_cannot_be_changed_after_the_decision() -> None:
    check = decide(BASE, DEFAULTS).check("amount_within_auto_limit")
    with pytest.raises(TypeError):
        check.params["max_amount_fen"] = 10**9  # type: ignore[index]


def test_every_reason_code_has_both_labels_and_a_row() -> None:
    codes = [reason.code for reason in DEFAULT_REASONS]
    assert sorted(codes) == sorted(ReasonCode)
    for reason in DEFAULT_REASONS:
        assert reason.label("zh_CN") == reason.label_zh != ""
        assert reason.label("en") == reason.label_en != ""


def test_reason_labels_read_as_the_customer_sees_them() -> None:
    by_code = {reason.code: reason for reason in DEFAULT_REASONS}
    assert by_code[ReasonCode.NO_REASON_7_DAYS].label("zh_CN") == "七天无理由退货"
    assert by_code[ReasonCode.DAMAGED].label("zh_CN") == "商品破损"
    assert by_code[ReasonCode.WRONG_ITEM].label("en") == "Wrong item sent"
