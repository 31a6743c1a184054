"""The customer's pages: their orders, one order's tracking, and its live timeline partial."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.logistics.tracking_view import PROGRESS_STEPS, TrackingView, get_tracking_view
from backend.orders.queries import list_customer_orders
from portal import calls
from portal.rendering import redirect, render


def _customer(request: Request) -> int | None:
    return request.app.state.sessions.customer_id(request)


def _to_lookup(request: Request) -> Response:
    return redirect(request, "lookup")


async def orders(request: Request) -> Response:
    customer_id = _customer(request)
    if customer_id is None:
        return _to_lookup(request)
    summaries = await calls.read(
        request, list_customer_orders, request.app.state.database, customer_id
    )
    return render(request, "customer/orders.html", {"orders": summaries})


async def _view(request: Request, customer_id: int) -> TrackingView:
    view = await calls.read(
        request,
        get_tracking_view,
        request.app.state.database,
        request.path_params["public_no"],
        customer_id,
    )
    if view is None:
        raise HTTPException(404)
    return view


def _context(request: Request, view: TrackingView) -> dict[str, object]:
    return {
        "view": view,
        "steps": PROGRESS_STEPS,
        "current_step": PROGRESS_STEPS.index(view.progress),
        "refresh_seconds": request.app.state.settings.tracking_refresh_seconds,
    }


async def tracking(request: Request) -> Response:
    customer_id = _customer(request)
    if customer_id is None:
        return _to_lookup(request)
    view = await _view(request, customer_id)
    return render(request, "customer/tracking.html", _context(request, view))


async def timeline(request: Request) -> Response:
    """Polled by htmx; 204 (htmx leaves the page alone) when nothing has changed."""
    customer_id = _customer(request)
    if customer_id is None:
        raise HTTPException(404)
    view = await _view(request, customer_id)
    if request.query_params.get("marker") == view.refresh_marker:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return render(request, "customer/_timeline.html", _context(request, view))


routes = [
    Route("/orders", orders, name="orders"),
    Route("/orders/{public_no}", tracking, name="tracking"),
    Route("/orders/{public_no}/timeline", timeline, name="timeline"),
]
