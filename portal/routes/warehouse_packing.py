"""The pack flow after the scan: book the parcel's waybill, open its label, reprint or void it."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.actors import Actor
from backend.fulfilment import labels, packing
from backend.fulfilment.waybills import Refusal, WaybillRefused
from backend.logistics.waybills.base import (
    CarrierRejected,
    CarrierUnavailable,
    WaybillNotConfigured,
)
from backend.orders.service import OrderNotFound
from backend.staff.permissions import Permission, StaffIdentity
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import render
from portal.routes.admin_waybills import WAYBILL_NOTICES, line_quantities
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff

# Every stop of the pack flow, said in Chinese on the scan page; the parcel is not booked.
PACK_STOPS: dict[str, str] = {
    **WAYBILL_NOTICES,
    Refusal.NOTHING_LEFT: N_("Nothing left to pack: every item of this order is in a parcel."),
    packing.PackRefusal.STALE: N_(
        "Another parcel of this order was packed meanwhile. Scan the order again."
    ),
    packing.PackRefusal.NOT_BOOKED: N_("This waybill was not booked here: nothing to reprint."),
    packing.PackRefusal.COLLECTED: N_(
        "The carrier has already collected this parcel: the label can't be voided."
    ),
    packing.PackRefusal.VOIDED: N_("This label was voided."),
    packing.PackRefusal.TWO_WAREHOUSES: N_(
        "These items are kept at two warehouses: pack each warehouse's items in its own parcel."
    ),
    "no_lines": N_("Choose at least one item for the parcel."),
    "rejected": N_("The carrier refused the waybill: %(message)s"),
    "unavailable": N_("The carrier can't be reached right now. Nothing was booked: try again."),
    "void_unavailable": N_("The carrier can't be reached right now. Nothing changed: try again."),
    "not_configured": N_("No waybill account is set up for %(carrier)s."),
}


def _actor(request: Request, staff: StaffIdentity) -> Actor:
    return staff.actor(client_ip(request), channel="scan")


def bookable_carriers(request: Request) -> list[str]:
    bookers = request.app.state.waybill_bookers
    return [code for code in bookers.config.routes if bookers.can_book(code)]


async def pack_context(request: Request, order_id: int) -> dict[str, Any]:
    """What the pack panel shows for the order now; empty when there is no such order."""
    pack = await calls.read(request, packing.pack_form, request.app.state.database, order_id)
    if pack is None:
        return {}
    return {
        "pack": pack,
        "carriers": bookable_carriers(request),
        "default_carrier": request.app.state.packing.default_carrier,
        "printer": request.app.state.settings.kuaidi100_printer_siid,
    }


async def panel(
    request: Request, order_id: int, extra: dict[str, Any], status: int = 200
) -> Response:
    """The pack panel (or the scan page around it) for the order, as it is now."""
    context = await pack_context(request, order_id)
    if not context:
        raise HTTPException(404)
    context.update({"result": None, "error": None, "recent": None, **extra})
    return render(
        request,
        "warehouse/scan.html",
        context,
        partial="warehouse/_pack_panel.html",
        status_code=status,
    )


def stop(error: Exception) -> dict[str, Any]:
    """What the page says about a stop, from the error that made it."""
    if isinstance(error, WaybillRefused) and error.reason == Refusal.ON_HOLD:
        return {"held": error}
    if isinstance(error, WaybillRefused) and error.reason == Refusal.NOT_SHIPPABLE:
        return {"stop": N_("Do not pack: this order is %(status)s."), "stop_status": error.status}
    if isinstance(error, WaybillRefused | packing.PackRefused):
        return {"stop": PACK_STOPS[error.reason]}
    if isinstance(error, CarrierRejected):
        return {"stop": PACK_STOPS["rejected"], "stop_message": error.message}
    if isinstance(error, WaybillNotConfigured):
        return {"stop": PACK_STOPS["not_configured"], "stop_carrier": error.carrier_code}
    return {"stop": PACK_STOPS["unavailable"]}


PACK_ERRORS = (
    WaybillRefused,
    packing.PackRefused,
    CarrierRejected,
    CarrierUnavailable,
    WaybillNotConfigured,
)


def _wanted(form: FormData) -> dict[int, int]:
    ids = {int(name[4:]) for name in form if name.startswith("qty_") and name[4:].isdigit()}
    return line_quantities(form, ids)


async def book(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    order_id = int(request.path_params["order_id"])
    form = await request.form()
    wanted, parcel_no = _wanted(form), form_text(form, "parcel_no", 4)
    if any(name.startswith("qty_") for name in form) and not wanted:
        return await panel(request, order_id, {"stop": PACK_STOPS["no_lines"]}, 422)
    if not parcel_no.isdigit():
        return await panel(request, order_id, {"stop": PACK_STOPS[Refusal.BAD_LINES]}, 422)
    app = request.app
    try:
        booked = await calls.outbound(
            request,
            packing.book_parcel,
            app.state.database,
            app.state.waybill_bookers,
            app.state.packing,
            order_id,
            int(parcel_no),
            _actor(request, staff),
            carrier_code=form_text(form, "carrier", 32),
            lines=wanted or None,
        )
    except OrderNotFound:
        raise HTTPException(404) from None
    except PACK_ERRORS as error:
        return await panel(request, order_id, stop(error), 409)
    return await panel(request, order_id, {"booked": booked})


def _shipment_id(request: Request) -> int:
    return int(request.path_params["shipment_id"])


async def label_pdf(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    app = request.app
    try:
        pdf = await calls.outbound(
            request,
            labels.get_label_pdf,
            app.state.database,
            app.state.waybill_bookers,
            _shipment_id(request),
            _actor(request, staff),
        )
    except labels.LabelNotFound:
        raise HTTPException(404) from None
    except (CarrierUnavailable, CarrierRejected, WaybillNotConfigured):
        raise HTTPException(503) from None
    # A label names the recipient: never kept by a browser or a proxy.
    headers = {"Cache-Control": "no-store, private", "Content-Disposition": "inline"}
    return Response(pdf, media_type="application/pdf", headers=headers)


async def _order_of(request: Request, shipment_id: int) -> int:
    found = await calls.read(
        request, labels.order_of_shipment, request.app.state.database, shipment_id
    )
    if found is None:
        raise HTTPException(404)
    return found


async def reprint(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    app, shipment_id = request.app, _shipment_id(request)
    order_id = await _order_of(request, shipment_id)
    try:
        done = await calls.outbound(
            request,
            labels.reprint_label,
            app.state.database,
            app.state.waybill_bookers,
            shipment_id,
            _actor(request, staff),
        )
    except PACK_ERRORS as error:
        return await panel(request, order_id, stop(error), 409)
    return await panel(request, order_id, {"reprinted": done})


async def void(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    app, shipment_id = request.app, _shipment_id(request)
    order_id = await _order_of(request, shipment_id)
    try:
        await calls.outbound(
            request,
            labels.void_label,
            app.state.database,
            app.state.waybill_bookers,
            shipment_id,
            _actor(request, staff),
        )
    except CarrierUnavailable:
        return await panel(request, order_id, {"stop": PACK_STOPS["void_unavailable"]}, 409)
    except PACK_ERRORS as error:
        return await panel(request, order_id, stop(error), 409)
    return await panel(request, order_id, {"voided": shipment_id})


routes = [
    Route("/orders/{order_id:id}/parcels", book, methods=["POST"], name="warehouse_book_parcel"),
    Route("/shipments/{shipment_id:id}/label.pdf", label_pdf, name="warehouse_label_pdf"),
    Route(
        "/shipments/{shipment_id:id}/reprint",
        reprint,
        methods=["POST"],
        name="warehouse_reprint_label",
    ),
    Route("/shipments/{shipment_id:id}/void", void, methods=["POST"], name="warehouse_void_label"),
]
