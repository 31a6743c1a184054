"""Staff answer a customer's 催发货 or message; the reply shows on the customer's tracking page."""

from __future__ import annotations

import re
from contextlib import suppress

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.staff.permissions import Permission
from backend.support import service as support
from backend.support.lifecycle import RequestTransitionNotAllowed
from portal import calls
from portal.paths import IdConvertor
from portal.rendering import redirect
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff


async def answer(request: Request) -> Response:
    staff = await require_staff(request, Permission.ANSWER_CUSTOMERS)
    form = await request.form()
    # Answered by a colleague meanwhile, or an empty reply: the order page shows the truth.
    with suppress(RequestTransitionNotAllowed, support.MessageEmpty, support.MessageTooLong):
        await calls.write(
            request,
            support.answer_request,
            request.app.state.database,
            request.path_params["request_id"],
            staff.actor(client_ip(request)),
            str(form.get("reply", "")),
        )
    # From the order page, back to it; from the operations queue, back to the queue.
    order_id = str(form.get("order_id", ""))
    if re.fullmatch(IdConvertor.regex, order_id):
        return redirect(request, "admin_order", order_id=int(order_id))
    return redirect(request, "admin_operations")


routes = [
    Route(
        "/support/{request_id:id}/answer",
        answer,
        methods=["POST"],
        name="admin_answer_support",
    ),
]
