"""取消订单 from the customer's order page: a confirmation page, then the cancel.

The page says what the cancel will do (the backend's path for this order); the POST does
it and goes back to the order page, which shows the refund's progress. After pickup it goes
to the in-transit refund instead (portal/routes/in_transit.py). Refusals (collected before
we heard, a marketplace order, a tampered reason) are mapped in portal/errors.py.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.order_page_actions import can_refund_in_transit, cancel_offer
from backend.refunds import cancellation
from backend.refunds.cancel_lifecycle import CancelPath
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import render
from portal.routes.customer_access import customer_actor, customer_order_head

# The customer's words for each reason the backend accepts (cancellation.REASONS).
REASON_WORDS = {
    "changed_mind": N_("I don't want it any more"),
    "wrong_item": N_("I ordered the wrong item or too many"),
    "address": N_("The address is wrong"),
    "too_slow": N_("It is taking too long to ship"),
    "other": N_("Another reason"),
}


async def cancel_page(request: Request) -> Response:
    head = await customer_order_head(request)
    if request.method == "GET":
        context = {
            "public_no": head.row.public_no,
            "offer": cancel_offer(head),
            "reasons": REASON_WORDS,
        }
        return render(request, "customer/cancel.html", context)
    async with request.form(max_files=0, max_fields=3) as form:
        reason = form_text(form, "reason", 40)
    if cancel_offer(head).path == CancelPath.IN_TRANSIT and can_refund_in_transit(head):
        # After pickup a cancel is an intercept: the in-transit refund page asks which
        # (拦截退回 or 拒收) for each parcel on the road.
        target = request.url_for("in_transit_refund_form", public_no=head.row.public_no).path
        return RedirectResponse(target, status_code=303)
    await calls.write(
        request,
        cancellation.cancel_order,
        request.app.state.database,
        request.app.state.waybill_bookers,
        head.order_id,
        customer_actor(request, head.row.public_no),
        reason,
    )
    target = request.url_for("tracking", public_no=head.row.public_no).path
    return RedirectResponse(f"{target}?notice=order_cancelled", status_code=303)


routes = [
    Route(
        "/orders/{public_no:order_no}/cancel",
        cancel_page,
        methods=["GET", "POST"],
        name="cancel_order",
    ),
]
