"""Correct a hand-typed waybill on the staff order page (backend/fulfilment/waybill_corrections)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.fulfilment.waybill_corrections import (
    CorrectionRefusal,
    CorrectionRefused,
    correct_waybill,
)
from backend.fulfilment.waybills import WaybillRefused
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff

# What the order page says (?notice=); a refused number uses the waybill words (?waybill=).
CORRECTION_NOTICES = {
    "waybill_corrected": N_(
        "Waybill corrected: the new number is tracked and the customer's page shows it."
    ),
    "waybill_corrected_tell_channel": N_(
        "Waybill corrected here. The sales channel already has the old number: "
        "change it in the shop's seller console too."
    ),
    "waybill_unchanged": N_("That is the parcel's waybill already; nothing changed."),
    CorrectionRefusal.NO_SUCH_PARCEL: N_("There is no such parcel on this order."),
    CorrectionRefusal.BOOKED_HERE: N_(
        "This label was booked at the carrier here: void it and book a new one instead."
    ),
    CorrectionRefusal.VOIDED: N_("This label is voided; record a new waybill instead."),
    CorrectionRefusal.CARRIER_HAS_IT: N_(
        "Not corrected: the carrier has already reported on this waybill, so it is real."
    ),
}


async def correct(request: Request) -> Response:
    staff = await require_staff(request, Permission.RECORD_WAYBILLS)
    order_id = int(request.path_params["order_id"])
    async with request.form(max_files=0, max_fields=4) as form:
        carrier, number = form_text(form, "carrier", 32), form_text(form, "waybill", 40)
    target = request.url_for("admin_order", order_id=order_id).path
    try:
        done = await calls.write(
            request,
            correct_waybill,
            request.app.state.database,
            order_id,
            int(request.path_params["shipment_id"]),
            carrier,
            number,
            staff.actor(client_ip(request)),
        )
    except WaybillRefused as refused:
        return RedirectResponse(f"{target}?waybill={refused.reason}#shipments", status_code=303)
    except CorrectionRefused as refused:
        notice = str(refused.reason)
    else:
        if not done.changed:
            notice = "waybill_unchanged"
        elif done.channel_told:
            notice = "waybill_corrected_tell_channel"
        else:
            notice = "waybill_corrected"
    return RedirectResponse(f"{target}?notice={notice}#shipments", status_code=303)


routes = [
    Route(
        "/orders/{order_id:id}/shipments/{shipment_id:id}/waybill",
        correct,
        methods=["POST"],
        name="admin_correct_waybill",
    ),
]
