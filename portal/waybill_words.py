"""What became of an outside waybill, in words for staff and for an ERP's log: the reason
codes of backend/fulfilment (record_waybill's refusals and the outside checks) as sentences."""

from __future__ import annotations

from backend.fulfilment import outside
from backend.fulfilment.outside import ParcelOutcome
from backend.fulfilment.waybills import Refusal
from portal.i18n import N_
from portal.i18n import gettext as _

REASONS: dict[str, str] = {
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
    Refusal.BAD_NUMBER: N_("The waybill number is not valid (8 to 32 letters and digits)."),
    Refusal.USED_ON_ANOTHER_ORDER: N_("This waybill is already on another order."),
    Refusal.NOT_SHIPPABLE: N_("The order can't be shipped in its current status."),
    Refusal.ON_HOLD: N_("The order is on hold."),
    Refusal.NOTHING_LEFT: N_("Everything on the order is already in a parcel."),
    Refusal.BAD_LINES: N_("An item is not on the order, or more units than are left to ship."),
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
