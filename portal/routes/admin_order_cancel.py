"""取消订单 from the staff order page, for the customer: the same cancel service they use.

The page shows what the cancel will do (cancellation.preview_cancel, the verb's own
decide_path) before staff confirm; the POST asks for a reason from the customer's list and
an optional note, and goes back to the order page with a notice. After pickup a cancel is
an intercept, so the page points there instead and the POST refuses politely.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.refunds import cancellation
from backend.refunds.cancel_lifecycle import CancelPath
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff

# Staff wording of the customer's reasons (cancellation.REASONS).
STAFF_REASON_WORDS = {
    "changed_mind": N_("The customer no longer wants it"),
    "wrong_item": N_("The customer ordered the wrong item or too many"),
    "address": N_("The address is wrong"),
    "too_slow": N_("It is taking too long to ship"),
    "other": N_("Another reason (say which in the note)"),
}

# What the order page says, per what the cancel did or why it did not happen.
CANCEL_NOTICES = {
    "cancelled": N_("Cancelled. Any payment is being refunded through the original gateway."),
    "cancelled_already": N_("This order was cancelled already; nothing was done again."),
    "cancel_reason_needed": N_("Choose why the order is cancelled."),
    "cancel_note_needed": N_("Say in the note why the order is cancelled."),
    "cancel_in_transit": N_(
        "Not cancelled: a carrier has the parcel. Start an intercept (拦截) instead."
    ),
    "cancel_platform": N_(
        "Not cancelled: this order was paid on the marketplace; cancel it there."
    ),
    "cancel_none": N_("Not cancelled: this order can no longer be cancelled here."),
}
_REFUSED = {
    CancelPath.IN_TRANSIT: "cancel_in_transit",
    CancelPath.PLATFORM: "cancel_platform",
}


def _back(request: Request, order_id: int, notice: str) -> Response:
    target = request.url_for("admin_order", order_id=order_id).path
    return RedirectResponse(f"{target}?notice={notice}#cancel", status_code=303)


async def cancel_order(request: Request) -> Response:
    staff = await require_staff(request, Permission.CANCEL_ORDERS)
    order_id = int(request.path_params["order_id"])
    async with request.form(max_files=0, max_fields=4) as form:
        reason = form_text(form, "reason", 40)
        note = form_text(form, "note", 200)
    if reason not in cancellation.REASONS:
        return _back(request, order_id, "cancel_reason_needed")
    if reason == "other" and not note:
        return _back(request, order_id, "cancel_note_needed")
    try:
        outcome = await calls.write(
            request,
            cancellation.cancel_order,
            request.app.state.database,
            request.app.state.waybill_bookers,
            order_id,
            staff.actor(client_ip(request)),
            reason,
            note=note,
        )
    except cancellation.CancelNotAllowed as refused:
        return _back(request, order_id, _REFUSED.get(refused.path, "cancel_none"))
    return _back(request, order_id, "cancelled_already" if outcome.repeated else "cancelled")


routes = [
    Route(
        "/orders/{order_id:id}/cancel",
        cancel_order,
        methods=["POST"],
        name="admin_cancel_order",
    ),
]
