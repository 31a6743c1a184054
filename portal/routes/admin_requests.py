"""Staff queue of address requests: changes after the window, and carrier redirects."""

from __future__ import annotations

from contextlib import suppress

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.clock import utcnow
from backend.orders import address_changes as changes
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.rules_in_force import rules_of
from portal.staff_auth import require_staff


async def queue(request: Request) -> Response:
    staff = await require_staff(request, Permission.REVIEW_ADDRESSES)
    pending = await calls.read(request, changes.list_pending_requests, request.app.state.database)
    return render(
        request,
        "admin/address_requests.html",
        {"staff": staff, "requests": pending, "now": utcnow()},
    )


async def decide(request: Request) -> Response:
    staff = await require_staff(request, Permission.REVIEW_ADDRESSES)
    change_id: int = request.path_params["change_id"]
    form = await request.form()
    verdict = form_text(form, "verdict", 10)
    if verdict not in ("approve", "reject"):
        raise HTTPException(400)
    # Answered meanwhile (by a colleague or the timer): the queue then shows the truth.
    with suppress(changes.AddressChangeNotFound):
        await calls.write(
            request,
            changes.decide_request,
            request.app.state.database,
            change_id,
            verdict == "approve",
            staff.actor(client_ip(request)),
            rules_of(request).addresses,
            reason=form_text(form, "reason", 200),
        )
    return redirect(request, "admin_address_requests")


routes = [
    Route("/address-requests", queue, name="admin_address_requests"),
    Route(
        "/address-requests/{change_id:id}",
        decide,
        methods=["POST"],
        name="admin_decide_address_request",
    ),
]
