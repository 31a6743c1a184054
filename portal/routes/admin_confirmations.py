"""Staff queue of ship confirmations a sales channel refused, with the platform's message."""

from __future__ import annotations

from contextlib import suppress

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.fulfilment import confirmations
from backend.staff.permissions import Permission
from portal import calls
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff


async def queue(request: Request) -> Response:
    staff = await require_staff(request, Permission.CONFIRM_SHIPMENTS)
    waiting = await calls.read(
        request, confirmations.list_confirmation_queue, request.app.state.database
    )
    return render(request, "admin/confirmations.html", {"staff": staff, "items": waiting})


async def retry(request: Request) -> Response:
    staff = await require_staff(request, Permission.CONFIRM_SHIPMENTS)
    # Retried or confirmed meanwhile: the queue then shows the truth.
    with suppress(confirmations.ConfirmationNotRetryable):
        await calls.write(
            request,
            confirmations.retry_confirmation,
            request.app.state.database,
            request.path_params["confirmation_id"],
            staff.actor(client_ip(request)),
        )
    return redirect(request, "admin_confirmations")


routes = [
    Route("/confirmations", queue, name="admin_confirmations"),
    Route(
        "/confirmations/{confirmation_id:id}/retry",
        retry,
        methods=["POST"],
        name="admin_retry_confirmation",
    ),
]
