"""The customer's pages: their orders, one order's tracking, and its live timeline partial."""

from __future__ import annotations

import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.clock import utcnow
from backend.funnel import FunnelStep
from backend.invoices.service import INVOICEABLE_ORDER_STATES
from backend.operations import SHIP_PROMISE
from backend.order_page_actions import (
    can_exchange,
    can_refund_in_transit,
    cancel_offer,
    receipt_decision,
    return_window,
    support_panel,
)
from backend.orders.access import CustomerSession
from backend.orders.queries import list_customer_orders
from backend.refunds.service import RETURNABLE
from backend.tracking_page import (
    PROGRESS_STEPS,
    TrackingHead,
    complete_tracking_view,
    get_tracking_head,
)
from portal import calls
from portal.i18n import N_, current_locale
from portal.page_cache import PageCache
from portal.rendering import is_htmx, page_response, redirect, render, render_page
from portal.sessions import Sessions
from portal.wechat_context import JSSDK_URL, Container, container_of, policy_with_jssdk
from portal.wechat_oauth import oauth_redirect
from portal.wechat_subscribe import (
    OPEN_TAG_STYLE,
    SubscribeOffer,
    policy_with_open_tag,
    subscribe_offer,
)


def _customer(request: Request) -> CustomerSession | None:
    sessions: Sessions = request.app.state.sessions
    return sessions.customer(request)


def _to_lookup(request: Request) -> Response:
    return redirect(request, "lookup")


async def orders(request: Request) -> Response:
    customer = _customer(request)
    if customer is None:
        return _to_lookup(request)
    if (to_wechat := await oauth_redirect(request, customer)) is not None:
        return to_wechat
    summaries = await calls.read(
        request, list_customer_orders, request.app.state.database, customer
    )
    return render(request, "customer/orders.html", {"orders": summaries})


async def _head(request: Request, customer: CustomerSession) -> TrackingHead:
    head = await calls.read(
        request,
        get_tracking_head,
        request.app.state.database,
        request.path_params["public_no"],
        customer,
    )
    if head is None:
        raise HTTPException(404)
    return head


# Messages a redirect may ask the page to show; anything else in ?notice= is ignored.
NOTICES = {
    "address_changed": N_("Your address has been changed. The phone on the order was told."),
    "address_requested": N_("Your change request was sent to customer service."),
    "intercept_requested": N_("Your redirect request was sent to customer service."),
    "reminder_sent": N_("Your reminder was sent. The shop has been asked to ship."),
    "message_sent": N_("Your message was sent to customer service."),
    "receipt_confirmed": N_("Thank you for confirming. The order is complete."),
    "order_cancelled": N_("Your order is cancelled."),
}


def _marker(head: TrackingHead) -> str:
    """Changes with the order, its shipments, and the minute ("updated N minutes ago")."""
    return f"{head.version}|{int(time.time() // 60)}"


async def _page(
    request: Request, head: TrackingHead, template: str, offer: SubscribeOffer | None = None
) -> Response:
    cache: PageCache = request.app.state.page_cache
    notice = request.query_params.get("notice")
    notice = notice if notice in NOTICES else None
    # In a mini-program's web-view the page offers the way back, with the JS-SDK that takes it.
    in_miniprogram = container_of(request.headers.get("user-agent", "")) == Container.MINIPROGRAM
    # The offer carries the signed wx.config values, so a new signature is a new page.
    # The rules version too: windows and limits on the page follow a rule saved anywhere.
    rules, rules_version = request.app.state.rules.versioned(request.app.state.database)
    key = (
        template,
        head.order_id,
        _marker(head),
        rules_version,
        current_locale(),
        notice,
        in_miniprogram,
        offer,
    )
    page = cache.get(key)
    if page is None:
        view = await calls.read(request, complete_tracking_view, request.app.state.database, head)
        now, settings = utcnow(), request.app.state.settings
        page = render_page(
            request,
            template,
            {
                "view": view,
                "marker": _marker(head),
                "steps": PROGRESS_STEPS,
                "current_step": PROGRESS_STEPS.index(view.progress),
                "refresh_seconds": settings.tracking_refresh_seconds,
                "decision": head.address_decision(now, rules.addresses),
                "request_decision": head.request_decision,
                "now": now,
                "notice": NOTICES.get(notice or ""),
                "returnable": view.status in RETURNABLE,
                "exchangeable": can_exchange(view.status, head.row.delivered_at, now, rules.refunds)
                or head.row.latest_exchange_id is not None,
                "invoiceable": view.status in INVOICEABLE_ORDER_STATES,
                "in_transit_refund": can_refund_in_transit(head),
                "return_window": return_window(head.row.delivered_at, now, rules.refunds),
                "receipt": receipt_decision(head, settings.auto_complete_days),
                "cancel": cancel_offer(head),
                "goodwill_fen": int(head.row.goodwill_fen or 0),
                "support": support_panel(head, view.requests, now, SHIP_PROMISE),
                "support_notice": None,
                "latest_return_id": head.row.latest_return_id,
                "in_miniprogram": in_miniprogram,
                "jssdk_url": JSSDK_URL,
                "subscribe": offer,
                "subscribe_style": OPEN_TAG_STYLE,
            },
        )
        cache.put(key, page)
    response = page_response(request, page)
    if in_miniprogram:
        response.headers["Content-Security-Policy"] = policy_with_jssdk()
    elif offer is not None:
        response.headers["Content-Security-Policy"] = policy_with_open_tag()
    response.headers["Vary"] += ", User-Agent"
    return response


async def tracking(request: Request) -> Response:
    customer = _customer(request)
    if customer is None:
        return _to_lookup(request)
    if (to_wechat := await oauth_redirect(request, customer)) is not None:
        return to_wechat
    head = await _head(request, customer)
    if is_htmx(request):
        return await _page(request, head, "customer/_timeline.html")
    offer = await subscribe_offer(request, customer)
    request.app.state.funnel.count(FunnelStep.PAGE_VIEWED)
    return await _page(request, head, "customer/tracking.html", offer)


async def timeline(request: Request) -> Response:
    """Polled by htmx; 204 (htmx leaves the page alone) when nothing has changed."""
    customer = _customer(request)
    if customer is None:
        raise HTTPException(404)
    head = await _head(request, customer)
    if request.query_params.get("marker") == _marker(head):
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return await _page(request, head, "customer/_timeline.html")


routes = [
    Route("/orders", orders, name="orders"),
    Route("/orders/{public_no:order_no}", tracking, name="tracking"),
    Route("/orders/{public_no:order_no}/timeline", timeline, name="timeline"),
]
