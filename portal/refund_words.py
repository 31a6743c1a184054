"""Refunds in plain words for the customer: the rules' reasons (已自动通过：金额不超过200元、…),
what happens now for this kind of request, and where the money went."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.rules import RefundType
from portal.i18n import N_
from portal.i18n import gettext as _

REFUND_ONLY, RETURN = RefundType.REFUND_ONLY, RefundType.RETURN_AND_REFUND
S = ReturnStatus
_FAILED = N_(
    "The refund could not be paid automatically. Our finance team will pay it and tell you."
)

# What happens now, by kind of request: a refund-only (仅退款) customer keeps the goods and
# sends nothing back, so no sentence of theirs may speak of a parcel or an inspection.
_NOW: dict[tuple[RefundType, ReturnStatus], str] = {
    (REFUND_ONLY, S.IN_REVIEW): N_("You do not need to send anything back."),
    (REFUND_ONLY, S.APPROVED): N_("Approved. You keep the item; the refund is being paid."),
    (REFUND_ONLY, S.REFUNDING): N_("Approved. You keep the item; the refund is being paid."),
    (REFUND_ONLY, S.REFUND_FAILED): _FAILED,
    (RETURN, S.IN_REVIEW): N_(
        "Keep the item until the request is approved; we will then say where to send it."
    ),
    (RETURN, S.APPROVED): N_("Approved. Please send the item back and enter the waybill below."),
    (RETURN, S.AWAITING_PARCEL): N_(
        "Approved. Please send the item back and enter the waybill below."
    ),
    (RETURN, S.PARCEL_IN_TRANSIT): N_("The item is on its way back to us."),
    (RETURN, S.RECEIVED): N_("The warehouse has received the item; the refund is being paid."),
    (RETURN, S.REFUNDING): N_("The refund is being paid."),
    (RETURN, S.REFUND_FAILED): _FAILED,
}

_GATEWAYS = {"wechatpay": N_("WeChat Pay"), "alipay": N_("Alipay")}
# WeChat Pay's user_received_account speaks of the payer in the third person; bank cards
# ("招商银行信用卡0403") are named as reported. Alipay reports no account.
_ACCOUNTS = {
    "支付用户零钱": N_("your WeChat balance"),
    "支付用户零钱通": N_("your WeChat Lingqiantong"),
}


def _yuan(fen: Any) -> str:
    return f"{int(fen) // 100}"


def _inspection(refund_type: RefundType) -> str:
    if refund_type == RefundType.REFUND_ONLY:
        return _("the photos need a person's check")
    return _("the item needs to be inspected")


def explain(check: dict[str, Any], refund_type: RefundType) -> str | None:
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
        return _inspection(refund_type)
    if code in ("photos_not_reused", "photos_not_catalogue_copies") and not passed:
        # Which photo matched what is for staff (the review page shows it next to the match);
        # the customer is told only that a person looks at the photos.
        return _("the photos need a person's check")
    if code == "not_risk_flagged" and not passed:
        return _("the order needs a manual check")
    return None


def explain_all(
    checks: Iterable[dict[str, Any]], passed: bool, refund_type: RefundType
) -> list[str]:
    words = (explain(check, refund_type) for check in checks if bool(check.get("passed")) is passed)
    return list(dict.fromkeys(text for text in words if text))  # one sentence said once


def what_happens_now(refund_type: RefundType, status: ReturnStatus) -> str | None:
    words = _NOW.get((refund_type, status))
    return _(words) if words else None


def gateway_name(gateway: str) -> str:
    words = _GATEWAYS.get(gateway)
    return _(words) if words else gateway


def refunded_to(gateway: str, account: str | None) -> str:
    """One sentence for every refund: the gateway, and the account it reports (if any)."""
    words = _ACCOUNTS.get(account or "")
    where = _(words) if words else account or _("the account you paid with")
    return _("Refunded via %(gateway)s to %(account)s.") % {
        "gateway": gateway_name(gateway),
        "account": where,
    }
