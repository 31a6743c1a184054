"""拦截改派 from the staff order page: a parcel packed or on the road sent to a new address."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.orders import address_changes as changes
from backend.orders.address_fields import AddressFieldInvalid
from backend.orders.address_parsing import parse_address
from backend.orders.service import OrderNotFound
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.routes.customer_access import client_ip
from portal.rules_in_force import rules_of
from portal.staff_auth import require_staff

REDIRECT_NOTICES = {
    "redirected": N_(
        "Redirect recorded: the new address is on the order and the carrier is being asked "
        "to deliver there. A refusal from the carrier shows in the audit trail."
    ),
    "redirect_unclear": N_(
        "Could not read a name, a mobile number and a full address from that text. Paste it "
        "as: name, mobile, province city district, street."
    ),
    "redirect_invalid": N_("That address can't be used: check the mobile number and the area."),
    "redirect_reason": N_("Say why the parcel is redirected."),
    "redirect_not_allowed": N_(
        "This parcel can't be redirected now: it is not on its way, the order is flagged, "
        "or a redirect request is already waiting."
    ),
}


async def redirect_parcel(request: Request) -> Response:
    staff = await require_staff(request, Permission.REVIEW_ADDRESSES)
    order_id = int(request.path_params["order_id"])
    async with request.form(max_files=0, max_fields=3) as form:
        pasted = form_text(form, "address", 300, multiline=True)
        reason = form_text(form, "reason", 400)
    parsed = parse_address(pasted)
    notice = "redirected"
    if parsed.unresolved:
        notice = "redirect_unclear"
    else:
        try:
            address = changes.validate_address(
                parsed.recipient_name or "",
                parsed.phone or "",
                parsed.province or "",
                parsed.city or "",
                parsed.district or "",
                parsed.street or "",
            )
            await calls.write(
                request,
                changes.redirect_by_staff,
                request.app.state.database,
                order_id,
                address,
                reason,
                staff.actor(client_ip(request)),
                rules_of(request).addresses,
            )
        except (AddressFieldInvalid, changes.UnknownDivision):
            notice = "redirect_invalid"
        except changes.RedirectReasonRequired:
            notice = "redirect_reason"
        except changes.AddressChangeNotAllowed:
            notice = "redirect_not_allowed"
        except OrderNotFound:
            raise HTTPException(404) from None
    target = request.url_for("admin_order", order_id=order_id).path
    return RedirectResponse(f"{target}?notice={notice}", status_code=303)


routes = [
    Route(
        "/orders/{order_id:id}/redirect",
        redirect_parcel,
        methods=["POST"],
        name="admin_redirect_parcel",
    ),
]
