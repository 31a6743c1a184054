"""拦截退回 from the staff order page: staff ask the carrier to send a parcel back.

The same service as the customer's in-transit refund (request_in_transit_refund, method
INTERCEPT): the carrier is asked through Kuaidi100's interceptOrder by its job, SF becomes
a staff task, and the refund follows the parcel's return. It shows at once on the
in-transit queue, this page and the customer's page. (A redirect to a new address, 改派,
stays the customer's address-change request, reviewed on the address queue.)
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.refunds import in_transit
from backend.refunds.in_transit_lifecycle import InTransitMethod
from backend.refunds.in_transit_views import reason_choices
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.routes.customer_access import client_ip
from portal.routes.in_transit import REFUSALS
from portal.rules_in_force import rules_of
from portal.staff_auth import require_staff

INTERCEPT_NOTICES = {
    "intercept_asked": N_(
        "Intercept asked: the carrier is asked to send the parcel back, and the refund follows."
    ),
    **{f"intercept_{code}": words for code, words in REFUSALS.items()},
}


async def intercept(request: Request) -> Response:
    staff = await require_staff(request, Permission.REVIEW_REFUNDS)
    order_id = int(request.path_params["order_id"])
    async with request.form(max_files=0, max_fields=3) as form:
        shipment, reason = form_text(form, "shipment", 12), form_text(form, "reason", 40)
    rules = rules_of(request).refunds
    if not shipment.isdigit():
        notice = "intercept_parcel_unknown"
    elif reason not in {code for code, _label in reason_choices(rules)}:
        notice = "intercept_reason_known"
    else:
        try:
            await calls.write(
                request,
                in_transit.request_in_transit_refund,
                request.app.state.database,
                staff.actor(client_ip(request)),
                order_id,
                method=InTransitMethod.INTERCEPT,
                reason=reason,
                rules=rules,
                shipment_ids=[int(shipment)],
            )
            notice = "intercept_asked"
        except in_transit.InTransitNotAllowed as refused:
            notice = f"intercept_{refused.code}"
        except in_transit.InTransitInvalid as invalid:
            notice = f"intercept_{invalid.code}"
    if notice not in INTERCEPT_NOTICES:
        notice = "intercept_reason_known"
    target = request.url_for("admin_order", order_id=order_id).path
    return RedirectResponse(f"{target}?notice={notice}#intercept", status_code=303)


routes = [
    Route(
        "/orders/{order_id:id}/intercept",
        intercept,
        methods=["POST"],
        name="admin_intercept_parcel",
    ),
]
