"""The staff queue of refunds in transit a person must act on: call the carrier, review."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.refunds import in_transit_staff
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff


async def queue(request: Request) -> Response:
    staff = await require_staff(request, Permission.REVIEW_REFUNDS)
    rows = await calls.read(request, in_transit_staff.list_queue, request.app.state.database)
    return render(request, "admin/in_transit_refunds.html", {"staff": staff, "rows": rows})


async def act(request: Request) -> Response:
    staff = await require_staff(request, Permission.REVIEW_REFUNDS)
    async with request.form(max_files=0, max_fields=4) as form:
        action = form_text(form, "action", 20)
        note = form_text(form, "note", 200)
    await calls.write(
        request,
        in_transit_staff.act,
        request.app.state.database,
        request.path_params["request_id"],
        action,
        staff.actor(client_ip(request)),
        note=note,
    )
    return redirect(request, "admin_in_transit_refunds")


routes = [
    Route("/in-transit-refunds", queue, name="admin_in_transit_refunds"),
    Route(
        "/in-transit-refunds/{request_id:id}",
        act,
        methods=["POST"],
        name="admin_in_transit_refund_act",
    ),
]
