"""The warehouse scan page: a barcode scanner (keyboard wedge), typing, or the phone camera."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.actors import Actor
from backend.exchanges import return_leg
from backend.logistics import warehouse
from backend.refunds import in_transit_staff, return_parcels
from backend.refunds.service import ReturnNotFound
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import render
from portal.routes import warehouse_packing
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff


async def scan_page(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    recent = await calls.read(request, warehouse.list_recent_scans, request.app.state.database)
    return render(
        request,
        "warehouse/scan.html",
        {"staff": staff, "result": None, "error": None, "recent": recent},
    )


async def _returned_parcel(request: Request, code: str, actor: Actor) -> dict[str, object]:
    """A parcel coming back (a return's, an exchange's, or one stopped on the road) is signed
    in rather than packed."""
    database = request.app.state.database
    returned = await calls.write(request, return_parcels.receive_by_waybill, database, code, actor)
    if returned is not None:
        return {"returned": returned}
    exchanged = await calls.write(request, return_leg.receive_by_waybill, database, code, actor)
    if exchanged is not None:
        return {"exchanged": exchanged}
    # An outbound parcel intercepted or refused on the road comes back to the shelf.
    intercepted = await calls.write(
        request, in_transit_staff.receive_by_waybill, database, code, actor
    )
    return {"intercepted": intercepted} if intercepted is not None else {}


async def scan(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    form = await request.form()
    code = form_text(form, "code", 60)
    database = request.app.state.database
    context: dict[str, object] = {"staff": staff, "result": None, "error": None, "code": code}
    status = 200
    actor = staff.actor(client_ip(request), channel="scan")
    signed_in = await _returned_parcel(request, code, actor)
    if signed_in:
        context.update(signed_in)
        context["recent"] = await calls.read(request, warehouse.list_recent_scans, database)
        return render(
            request, "warehouse/scan.html", context, partial="warehouse/_scan_result.html"
        )
    try:
        result = await calls.write(
            request,
            warehouse.scan_parcel,
            database,
            code,
            actor,
            None,
            staff.warehouse_id,
        )
        context["result"] = result
        context.update(await warehouse_packing.pack_context(request, result.order_id))
    except warehouse.ParcelNotFound:
        context["error"], status = N_("No order or waybill with this number."), 404
    except warehouse.ScanRefused as refused:
        context["error"], status = N_("Do not pack: this order is %(status)s."), 409
        context["refused_status"] = refused.status
    except warehouse.OrderOnHold as held:
        context["held"], status = held, 409
    context["recent"] = await calls.read(request, warehouse.list_recent_scans, database)
    return render(
        request,
        "warehouse/scan.html",
        context,
        partial="warehouse/_scan_result.html",
        status_code=status,
    )


async def reprint(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    try:
        shipment_id = int(request.path_params["shipment_id"])
        await calls.write(
            request,
            warehouse.confirm_reprint,
            request.app.state.database,
            shipment_id,
            staff.actor(client_ip(request), channel="scan"),
        )
    except (ValueError, warehouse.ParcelNotFound):
        raise HTTPException(404) from None
    return render(request, "warehouse/_reprinted.html", {})


async def inspect(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    form = await request.form()
    try:
        return_id = int(request.path_params["return_id"])
        await calls.write(
            request,
            return_parcels.record_inspection,
            request.app.state.database,
            return_id,
            form_text(form, "verdict", 10) == "ok",
            form_text(form, "note", 180),
            staff.actor(client_ip(request), "scan"),
        )
    except (ValueError, ReturnNotFound):
        raise HTTPException(404) from None
    return render(request, "warehouse/_inspected.html", {})


routes = [
    Route("/scan", scan_page, name="warehouse_scan"),
    Route("/scan", scan, methods=["POST"], name="warehouse_scan_post"),
    Route(
        "/shipments/{shipment_id:id}/reprinted",
        reprint,
        methods=["POST"],
        name="warehouse_reprinted",
    ),
    Route(
        "/returns/{return_id:id}/inspection",
        inspect,
        methods=["POST"],
        name="warehouse_inspect_return",
    ),
]
