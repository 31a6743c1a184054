"""Staff record a waybill by hand on the order page: carrier, number and what the parcel holds."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.fulfilment.waybills import (
    Refusal,
    WaybillRefused,
    WaybillSource,
    record_waybill,
    waybill_form,
)
from backend.orders.service import OrderNotFound
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff
from portal.waybill_words import REFUSALS

# What the order page says after a waybill was typed; anything else in ?waybill= is ignored.
WAYBILL_NOTICES = {
    "created": N_("Waybill recorded: the parcel is tracked and the sales channel will be told."),
    "repeat": N_("That waybill is already on this order; nothing changed."),
    "no_lines": N_("Choose at least one item for the parcel."),
    **REFUSALS,
}
MAX_UNITS = 100_000


def line_quantities(form: FormData, allowed: set[int]) -> dict[int, int]:
    """`qty_<line id>` fields with whole, positive numbers; anything else counts as 0."""
    wanted: dict[int, int] = {}
    for line_id in allowed:
        raw = form_text(form, f"qty_{line_id}", 6)
        if raw.isdigit() and 0 < int(raw) <= MAX_UNITS:
            wanted[line_id] = int(raw)
    return wanted


async def record(request: Request) -> Response:
    staff = await require_staff(request, Permission.RECORD_WAYBILLS)
    database = request.app.state.database
    order_id = int(request.path_params["order_id"])
    form = await request.form()
    shape = await calls.read(request, waybill_form, database, order_id)
    lines = line_quantities(form, {line.order_line_id for line in shape.lines})
    picked = any(name.startswith("qty_") for name in form)  # none at all: everything left
    notice: str
    if picked and not lines:
        notice = "no_lines"
    else:
        try:
            recorded = await calls.write(
                request,
                record_waybill,
                database,
                order_id,
                form_text(form, "carrier", 32),
                form_text(form, "waybill", 40),
                staff.actor(client_ip(request)),
                source=WaybillSource.MANUAL,
                lines=lines or None,
            )
            notice = "created" if recorded.created else "repeat"
        except WaybillRefused as refused:
            notice = refused.reason
        except OrderNotFound:
            notice = Refusal.NOT_SHIPPABLE
    target = request.url_for("admin_order", order_id=order_id).path
    return RedirectResponse(f"{target}?waybill={notice}#shipments", status_code=303)


routes = [
    Route(
        "/orders/{order_id:id}/waybills",
        record,
        methods=["POST"],
        name="admin_record_waybill",
    ),
]
