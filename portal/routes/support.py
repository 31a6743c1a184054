"""The customer's 催发货, message to customer service and 确认收货, from their order page.

Each is a plain POST form (303 back to the order page) that htmx enhances: 催发货 and the
message return the support card (#support) alone. Refusals are mapped in portal/errors.py.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.clock import utcnow
from backend.operations import SHIP_PROMISE
from backend.order_page_actions import support_panel
from backend.orders.completion import confirm_receipt
from backend.support import service as support
from backend.tracking_page import TrackingHead
from portal import calls
from portal.forms import form_text
from portal.rendering import is_htmx, render
from portal.routes.customer_access import customer_actor, customer_order_head
from portal.routes.tracking import NOTICES


def _to_tracking(request: Request, head: TrackingHead, notice: str) -> Response:
    target = request.url_for("tracking", public_no=head.row.public_no).path
    return RedirectResponse(f"{target}?notice={notice}", status_code=303)


async def _done(request: Request, head: TrackingHead, notice: str) -> Response:
    """htmx: the support card as it is now; without JS: back to the order page, saying so."""
    if not is_htmx(request):
        return _to_tracking(request, head, notice)
    fresh = await customer_order_head(request)
    database = request.app.state.database
    requests = await calls.read(request, support.list_order_requests, database, fresh.order_id)
    panel = support_panel(fresh, tuple(requests), utcnow(), SHIP_PROMISE)
    context = {"support": panel, "support_notice": NOTICES[notice]}
    return render(request, "customer/_support.html", context)


async def remind(request: Request) -> Response:
    head = await customer_order_head(request)
    async with request.form(max_files=0, max_fields=2):
        pass  # only the CSRF token, checked by the middleware
    database = request.app.state.database
    await calls.write(
        request,
        support.send_reminder,
        database,
        head.order_id,
        customer_actor(request, head.row.public_no),
        promise=SHIP_PROMISE,
    )
    return await _done(request, head, "reminder_sent")


async def leave_message(request: Request) -> Response:
    head = await customer_order_head(request)
    async with request.form(max_files=0, max_fields=2) as form:
        # Read past the limit, so a long message is refused by the backend, not cut short.
        body = form_text(form, "body", support.MESSAGE_MAX_CHARS * 2, multiline=True)
    database = request.app.state.database
    await calls.write(
        request,
        support.leave_message,
        database,
        head.order_id,
        customer_actor(request, head.row.public_no),
        body,
    )
    return await _done(request, head, "message_sent")


async def receipt(request: Request) -> Response:
    head = await customer_order_head(request)
    async with request.form(max_files=0, max_fields=2):
        pass
    database = request.app.state.database
    await calls.write(
        request,
        confirm_receipt,
        database,
        head.order_id,
        customer_actor(request, head.row.public_no),
    )
    return _to_tracking(request, head, "receipt_confirmed")


routes = [
    Route("/orders/{public_no:order_no}/remind", remind, methods=["POST"], name="support_remind"),
    Route(
        "/orders/{public_no:order_no}/messages",
        leave_message,
        methods=["POST"],
        name="support_message",
    ),
    Route(
        "/orders/{public_no:order_no}/receipt", receipt, methods=["POST"], name="confirm_receipt"
    ),
]
