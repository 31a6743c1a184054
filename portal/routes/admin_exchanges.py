"""Staff queue of exchanges (换货) waiting for a person: returned parcels to sign in, and
trusted customers' exchanges whose parcel never came."""

from __future__ import annotations

from contextlib import suppress

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.clock import utcnow
from backend.exchanges import return_leg, service, views
from backend.exchanges.lifecycle import ExchangeTransitionNotAllowed
from backend.staff.permissions import Permission
from portal import calls
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff


async def queue(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    entries = await calls.read(request, views.list_exchange_queue, request.app.state.database)
    context = {"staff": staff, "entries": entries, "now": utcnow()}
    return render(request, "admin/exchanges.html", context)


async def receive(request: Request) -> Response:
    staff = await require_staff(request, Permission.SCAN_PARCELS)
    await request.form()
    # Signed in by a colleague meanwhile: the queue shows the truth.
    with suppress(ExchangeTransitionNotAllowed, service.ExchangeNotFound):
        await calls.write(
            request,
            return_leg.receive_exchange,
            request.app.state.database,
            request.path_params["exchange_id"],
            staff.actor(client_ip(request)),
        )
    return redirect(request, "admin_exchanges")


routes = [
    Route("/exchanges", queue, name="admin_exchanges"),
    Route(
        "/exchanges/{exchange_id:id}/receive",
        receive,
        methods=["POST"],
        name="admin_receive_exchange",
    ),
]
