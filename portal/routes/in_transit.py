"""The customer's 仅退款 for parcels still on the road: 拦截退回 or 拒收, then its progress.

GET shows each parcel with what the backend allows; POST asks for one parcel (or all on
the road) and comes back to the same page (303). Refusals re-render the page with a message.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.refunds import in_transit
from backend.refunds.in_transit_views import get_in_transit_page
from backend.tracking_page import TrackingHead
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.refund_words import explain_all
from portal.rendering import render
from portal.routes.customer_access import customer_actor, customer_order_head
from portal.rules_in_force import rules_of

REFUSALS = {
    "already_asked": N_("A refund was already asked for this parcel."),
    "delivered": N_("This parcel has been signed for. Please ask for a return instead."),
    "parcel_not_on_the_road": N_("This parcel is not on the road, so it cannot be stopped."),
    "order_not_on_the_road": N_("This order has no parcel on the road."),
    "nothing_on_the_road": N_("No parcel of this order can be stopped now."),
    "parcel_unknown": N_("Choose one of the parcels shown."),
    "not_refundable_here": N_(
        "This order was paid on the platform. Please ask for the refund there."
    ),
    "reason_known": N_("Choose a reason."),
    "amount_positive": N_("Everything paid for this order has been refunded already."),
}


async def _page(
    request: Request, head: TrackingHead, error: str | None = None, status: int = 200
) -> Response:
    rules = rules_of(request).refunds
    page = await calls.read(
        request, get_in_transit_page, request.app.state.database, head.order_id, rules
    )
    context = {
        "public_no": head.row.public_no,
        "page": page,
        "error": error,
        "explain_all": explain_all,
    }
    return render(request, "customer/in_transit_refund.html", context, status_code=status)


async def in_transit_refund(request: Request) -> Response:
    head = await customer_order_head(request)
    if request.method == "GET":
        return await _page(request, head)
    async with request.form(max_files=0, max_fields=5) as form:
        method = form_text(form, "method", 12)
        reason = form_text(form, "reason", 40)
        parcel = form_text(form, "shipment_id", 12)
    if method not in ("intercept", "refuse") or not parcel.isdigit():
        return await _page(request, head, REFUSALS["parcel_unknown"], 422)
    try:
        await calls.write(
            request,
            in_transit.request_in_transit_refund,
            request.app.state.database,
            customer_actor(request, head.row.public_no),
            head.order_id,
            method=method,
            reason=reason,
            rules=rules_of(request).refunds,
            shipment_ids=[int(parcel)],
        )
    except in_transit.InTransitNotAllowed as refused:
        return await _page(request, head, REFUSALS[refused.code], 409)
    except in_transit.InTransitInvalid as invalid:
        return await _page(request, head, REFUSALS.get(invalid.code, REFUSALS["reason_known"]), 422)
    target = request.app.url_path_for("in_transit_refund_form", public_no=head.row.public_no)
    return RedirectResponse(str(target), status_code=303)


routes = [
    Route(
        "/orders/{public_no:order_no}/refund-in-transit",
        in_transit_refund,
        methods=["GET", "POST"],
        name="in_transit_refund_form",
    ),
]
