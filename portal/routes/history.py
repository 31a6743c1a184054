"""The customer's one timeline of an order (/orders/<no>/history), newest first, a page at a time.

Two queries a page: the tracking page's head (which checks the customer's grant and that
their link was not revoked) and the timeline's one UNION. "更早的记录" is a plain link to
the next page (?before=<cursor>) that htmx turns into "append the next entries here".
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.order_history import Cursor, read_history_page
from backend.orders.lifecycle import OrderStatus
from backend.tracking_page import get_tracking_head
from portal import calls
from portal.history_words import history_kind_note, history_title
from portal.rendering import redirect, render


async def history(request: Request) -> Response:
    customer = request.app.state.sessions.customer(request)
    if customer is None:
        return redirect(request, "lookup")
    database, public_no = request.app.state.database, request.path_params["public_no"]
    head = await calls.read(request, get_tracking_head, database, public_no, customer)
    if head is None:
        raise HTTPException(404)
    cursor = Cursor.decode(request.query_params.get("before"))
    page = await calls.read(request, read_history_page, database, head.order_id, cursor)
    context = {
        "public_no": head.row.public_no,
        "status": OrderStatus(head.row.status),
        "page": page,
        "older": cursor is not None,
        "title": history_title,
        "kind_note": history_kind_note,
    }
    return render(request, "customer/history.html", context, partial="customer/_history_page.html")


routes = [Route("/orders/{public_no:order_no}/history", history, name="order_history")]
