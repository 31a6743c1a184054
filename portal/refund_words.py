"""The refund rules' decisions in plain words for the customer (已自动通过：金额不超过200元、…)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from portal.i18n import gettext as _


def _yuan(fen: Any) -> str:
    return f"{int(fen) // 100}"


def explain(check: dict[str, Any]) -> str | None:
    """One sentence per rule worth telling; None for rules the customer need not hear about."""
    code, passed, p = check.get("code"), check.get("passed"), check.get("params") or {}
    if code == "amount_within_auto_limit":
        text = _("amount at most ¥%(max)s") if passed else _("amount above ¥%(max)s")
        return text % {"max": _yuan(p.get("max_amount_fen", 0))}
    if code == "within_return_window":
        if not p.get("delivered"):
            return None if passed else _("not signed for yet")
        text = (
            _("within %(days)s days of delivery")
            if passed
            else _("more than %(days)s days after delivery")
        )
        return text % {"days": p.get("window_days")}
    if code == "few_recent_refunds":
        if passed and not p.get("recent_refunds"):
            return _("first refund in %(days)s days") % {"days": p.get("window_days")}
        text = (
            _("fewer than %(max)s refunds in %(days)s days")
            if passed
            else _("%(max)s or more refunds in %(days)s days")
        )
        return text % {"max": p.get("max_recent_refunds"), "days": p.get("window_days")}
    if code == "no_inspection_needed" and not passed:
        return _("the item needs to be inspected")
    if code == "not_risk_flagged" and not passed:
        return _("the order needs a manual check")
    return None


def explain_all(checks: Iterable[dict[str, Any]], passed: bool) -> list[str]:
    words = (explain(check) for check in checks if bool(check.get("passed")) is passed)
    return [text for text in words if text]
