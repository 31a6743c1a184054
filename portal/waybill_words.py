"""What became of an outside waybill, in words for staff and for an ERP's log: the reason
codes of backend/fulfilment (record_waybill's refusals and the outside checks) as sentences."""

from __future__ import annotations

from backend.fulfilment import outside
from backend.fulfilment.outside import ParcelOutcome
from backend.fulfilment.waybills import Refusal
from portal.i18n import N_
from portal.i18n import gettext as _

# record_waybill's refusals, said the same way on the order page, the import and to an ERP.
REFUSALS: dict[str, str] = {
    Refusal.UNKNOWN_CARRIER: N_("Choose the carrier: the number alone doesn't tell."),
    Refusal.BAD_NUMBER: N_("That is not a waybill number: letters and digits only, 6 to 32."),
    Refusal.NOT_THIS_CARRIERS: N_("That carrier's waybill numbers don't look like this one."),
    Refusal.USED_ON_ANOTHER_ORDER: N_(
        "That waybill is already used on another order. Check the number."
    ),
    Refusal.NOT_SHIPPABLE: N_("This order can't be shipped in its current status."),
    Refusal.ON_HOLD: N_("This order is on hold: release the hold before shipping it."),
    Refusal.NOTHING_LEFT: N_("Every item of this order is already in a parcel."),
    Refusal.BAD_LINES: N_("More units than are left to ship, or an item of another order."),
}
REASONS: dict[str, str] = {
    **REFUSALS,
    outside.MISSING_CARRIER: N_("Please fill in the carrier (快递公司)."),
    outside.UNKNOWN_CARRIER: N_("This carrier is not one we know."),
    outside.MISSING_WAYBILL: N_("Please fill in the waybill number."),
    outside.MISSING_ORDER: N_("Please fill in the order number (订单号)."),
    outside.BAD_QUANTITY: N_("The quantity (数量) must be a whole number above zero."),
    outside.UNKNOWN_ORDER: N_("No order has this number."),
    outside.AMBIGUOUS_ORDER: N_(
        "Several channels have an order with this number; write it as channel:number."
    ),
    outside.UNKNOWN_SKU: N_("An item is not on the order, or more units than are left to ship."),
}
OUTCOMES = {
    outside.CREATED: N_("Recorded"),
    outside.REPEAT: N_("Already recorded"),
    outside.REFUSED: N_("Refused"),
}


def reason_text(reason: str | None) -> str:
    return _(REASONS.get(reason or "", "")) if reason else ""


def outcome_json(result: ParcelOutcome) -> dict[str, object]:
    answer: dict[str, object] = {
        "order": result.order,
        "waybill": result.waybill,
        "outcome": result.outcome,
    }
    if result.public_no:
        answer["public_no"] = result.public_no
    if result.reason:
        answer["reason"] = result.reason
        answer["message"] = reason_text(result.reason)
    return answer
