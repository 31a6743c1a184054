"""Cancelled orders that still need a person: a sealed parcel to open and shelve, or a
refund the gateway refused. The warehouse confirms the unpack; finance sends a refund again."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.refunds import cancellation
from backend.staff.permissions import Permission
from portal import calls
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff


async def queue(request: Request) -> Response:
    staff = await require_staff(request, Permission.VIEW_ORDERS)
    database = request.app.state.database
    rows = await calls.read(request, cancellation.list_waiting_for_staff, database)
    return render(request, "admin/cancellations.html", {"staff": staff, "rows": rows})


async def unpacked(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    async with request.form(max_files=0, max_fields=1):
        pass  # only the CSRF token, checked by the middleware
    await calls.write(
        request,
        cancellation.confirm_unpacked,
        request.app.state.database,
        request.path_params["cancellation_id"],
        staff.actor(client_ip(request)),
    )
    return redirect(request, "admin_cancellations")


async def retry_refund(request: Request) -> Response:
    staff = await require_staff(request, Permission.REVIEW_REFUNDS)
    async with request.form(max_files=0, max_fields=1):
        pass
    await calls.write(
        request,
        cancellation.retry_refund,
        request.app.state.database,
        request.path_params["cancellation_id"],
        staff.actor(client_ip(request)),
    )
    return redirect(request, "admin_cancellations")


routes = [
    Route("/cancellations", queue, name="admin_cancellations"),
    Route(
        "/cancellations/{cancellation_id:id}/unpacked",
        unpacked,
        methods=["POST"],
        name="admin_cancellation_unpacked",
    ),
    Route(
        "/cancellations/{cancellation_id:id}/retry-refund",
        retry_refund,
        methods=["POST"],
        name="admin_cancellation_retry_refund",
    ),
]
