"""Staff pages: login, order search, and the order page with its audit trail."""

from __future__ import annotations

from datetime import timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend import disclosure
from backend.clock import utcnow
from backend.fulfilment import labels
from backend.fulfilment.waybill_corrections import correctable_shipments
from backend.fulfilment.waybills import waybill_form
from backend.goodwill.service import order_goodwill
from backend.logistics.alerts import list_alerts
from backend.logistics.carriers.names import CARRIER_NAMES
from backend.logistics.parcel_views import get_order_parcels
from backend.logistics.shipment_views import list_shipment_views
from backend.notifications.outbox import list_order_messages
from backend.notifications.resend import resend_offers
from backend.orders import access, address_changes, holds, stock, transfers, warehouses
from backend.orders.lifecycle import OrderStatus
from backend.orders.queries import get_staff_order_view
from backend.refunds.cancellation import preview_cancel
from backend.refunds.in_transit import ON_THE_ROAD_ORDERS
from backend.refunds.in_transit_views import get_in_transit_page
from backend.refunds.silent_parcels import list_silent_return_parcels
from backend.search import search_orders
from backend.staff.accounts import (
    InvalidCredentials,
    LoginLocked,
    SecondFactorNeeded,
    end_session,
    log_in,
)
from backend.staff.permissions import Permission, StaffIdentity
from backend.support.lifecycle import NoteKind
from backend.support.notes import order_notes
from backend.support.service import list_order_requests
from portal import calls
from portal.forms import clean_text, form_text
from portal.i18n import N_
from portal.rendering import redirect, render
from portal.routes.admin_customers import NOTE_NOTICES
from portal.routes.admin_goodwill import GOODWILL_NOTICES, new_request_key
from portal.routes.admin_intercepts import INTERCEPT_NOTICES
from portal.routes.admin_messages import RESEND_NOTICES
from portal.routes.admin_order_cancel import CANCEL_NOTICES, STAFF_REASON_WORDS
from portal.routes.admin_redirect import REDIRECT_NOTICES
from portal.routes.admin_waybill_corrections import CORRECTION_NOTICES
from portal.routes.admin_waybills import WAYBILL_NOTICES
from portal.routes.customer_access import client_ip
from portal.rules_in_force import rules_of
from portal.staff_auth import current_staff_session, require_staff


async def login(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "admin/login.html", {"error": None, "name": ""})
    form = await request.form()
    name, password = form_text(form, "name", 64), form_text(form, "password", 256)
    state = request.app.state
    try:
        login = await calls.write(
            request,
            log_in,
            state.database,
            name,
            password,
            client_ip(request),
            request.headers.get("user-agent"),
            state.sessions.staff_lifetime,
        )
    except (InvalidCredentials, LoginLocked) as refused:
        return _login_refused(request, name, refused)
    if isinstance(login, SecondFactorNeeded):
        response = redirect(request, "admin_login_code")
        state.sessions.start_second_factor(response, login.staff_id)
        return response
    response = redirect(request, "admin_orders")
    state.sessions.sign_in_staff(response, login.session_token)
    return response


def _login_refused(request: Request, name: str, refused: Exception) -> Response:
    if isinstance(refused, LoginLocked):
        error, status = N_("Too many failed logins. Try again in 15 minutes."), 429
    else:
        error, status = N_("Wrong name or password."), 422
    return render(request, "admin/login.html", {"error": error, "name": name}, status_code=status)


async def logout(request: Request) -> Response:
    """Ends the session on the server: the same cookie replayed later is a login page."""
    current = await current_staff_session(request)
    token = request.app.state.sessions.staff_token(request)
    if current is not None and token is not None:
        actor = current.identity.actor(client_ip(request))
        await calls.write(request, end_session, request.app.state.database, token, actor)
    response = redirect(request, "admin_login")
    request.app.state.sessions.sign_out_staff(response)
    return response


async def orders(request: Request) -> Response:
    staff = await require_staff(request, Permission.VIEW_ORDERS)
    query = clean_text(request.query_params.get("q", ""), 64)
    status = request.query_params.get("status") or None
    if status not in {None, *OrderStatus}:
        status = None
    page_text = request.query_params.get("page", "1")
    page = int(page_text) if page_text.isdigit() and len(page_text) < 4 else 1
    found = await calls.read(
        request,
        search_orders,
        request.app.state.database,
        query,
        status,
        staff.warehouse_id,
        page,
    )
    return render(
        request,
        "admin/orders.html",
        {
            "staff": staff,
            "orders": found,
            "q": query,
            "status": status,
            "statuses": list(OrderStatus),
        },
        partial="admin/_order_results.html",
    )


def _order_id(request: Request) -> int:
    return int(request.path_params["order_id"])  # {order_id:id}: a plausible id already


async def order_detail(request: Request) -> Response:
    staff = await require_staff(request, Permission.VIEW_ORDERS)
    return await _order_page(request, staff)


async def reveal(request: Request) -> Response:
    """The order page once more, with the phone and street shown for this answer only."""
    staff = await require_staff(request, Permission.REVEAL_PERSONAL_DATA)
    order_id = _order_id(request)
    reason = str((await request.form()).get("reason", ""))
    try:
        shown = await calls.write(
            request,
            disclosure.reveal_contact,
            request.app.state.database,
            order_id,
            reason,
            staff.actor(client_ip(request)),
        )
    except disclosure.ReasonRequired:
        return await _order_page(request, staff, problem=REVEAL_REASON_NEEDED, status_code=422)
    except disclosure.NoSuchOrder:
        raise HTTPException(404) from None
    return await _order_page(request, staff, shown=shown)


REVEAL_REASON_NEEDED = N_("Say why you need the full phone and address (at least 4 characters).")


async def _order_page(
    request: Request,
    staff: StaffIdentity,
    shown: frozenset[disclosure.Field] = frozenset(),
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    database = request.app.state.database
    order_id = _order_id(request)
    view = await calls.read(request, get_staff_order_view, database, order_id)
    if view is None:
        raise HTTPException(404)
    view = disclosure.for_staff(view, staff.role, shown)

    def shipments() -> object:
        with database.read() as session:
            return list_shipment_views(session, order_id, future_dated=True)

    messages = disclosure.mask_recipients(
        await calls.read(request, list_order_messages, database, order_id), staff.role, shown
    )
    can_record = staff.can(Permission.RECORD_WAYBILLS)
    can_scan = staff.can(Permission.SCAN_PARCELS)
    live = (
        await calls.read(request, labels.list_live_labels, database, order_id) if can_scan else ()
    )
    form = await calls.read(request, waybill_form, database, order_id) if can_record else None
    correctable = (
        await calls.read(request, correctable_shipments, database, order_id)
        if can_record
        else frozenset()
    )
    stock = await calls.read(request, warehouses.get_order_allocation, database, order_id)
    support_requests = await calls.read(request, list_order_requests, database, order_id)
    can_cancel = staff.can(Permission.CANCEL_ORDERS)
    can_answer = staff.can(Permission.ANSWER_CUSTOMERS)
    offers = await calls.read(request, resend_offers, database, order_id) if can_answer else {}
    can_grant = staff.can(Permission.GRANT_GOODWILL)
    goodwill = None
    if can_grant or staff.can(Permission.APPROVE_GOODWILL):
        goodwill = await calls.read(request, order_goodwill, database, order_id)
    road = None
    if staff.can(Permission.REVIEW_REFUNDS) and view.summary.status in ON_THE_ROAD_ORDERS:
        rules = rules_of(request).refunds
        road = await calls.read(request, get_in_transit_page, database, order_id, rules)
    cancel = await calls.read(request, preview_cancel, database, order_id) if can_cancel else None
    written = await calls.read(request, order_notes, database, order_id)
    can_redirect = staff.can(Permission.REVIEW_ADDRESSES) and await calls.read(
        request,
        address_changes.may_redirect,
        database,
        order_id,
        rules_of(request).addresses,
    )

    return render(
        request,
        "admin/order.html",
        {
            "staff": staff,
            "order": view,
            "shipments": await calls.read(request, shipments),
            "new_link": None,
            "messages": messages,
            "parcels": await calls.read(request, get_order_parcels, database, order_id),
            "can_manage_links": staff.can(Permission.MANAGE_LINKS),
            "can_release_holds": staff.can(Permission.RELEASE_HOLDS),
            "notice": NOTICES.get(request.query_params.get("notice", ""))
            or WAYBILL_NOTICES.get(request.query_params.get("waybill", "")),
            "waybill_form": form,
            "live_labels": live,
            "carriers": CARRIER_NAMES,
            "can_allocate": staff.can(Permission.ALLOCATE_STOCK),
            "stock": stock,
            "support_requests": support_requests,
            "can_answer": can_answer,
            "resend_offers": offers,
            "road": road,
            "goodwill": goodwill,
            "goodwill_key": new_request_key() if can_grant else None,
            "goodwill_limit": request.app.state.settings.goodwill_limit_fen,
            "cancel": cancel,
            "correctable": correctable,
            "cancel_reasons": STAFF_REASON_WORDS,
            "can_reveal": staff.can(Permission.REVEAL_PERSONAL_DATA),
            "revealed": shown,
            "reveal_problem": problem,
            "order_notes": written,
            "can_redirect": can_redirect,
            "note_kinds": NoteKind,
            "can_view_customer": staff.can(Permission.VIEW_CUSTOMERS),
        },
        status_code=status_code,
        # Revealed values are for this answer only: nothing may keep a copy.
        headers={"Cache-Control": "no-store"} if shown else None,
    )


async def issue_link(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_LINKS)
    state = request.app.state
    order_id = _order_id(request)
    lifetime = timedelta(days=state.settings.short_link_days)
    code = await calls.write(
        request,
        access.issue_short_link,
        state.database,
        order_id,
        staff.actor(client_ip(request)),
        lifetime,
    )
    link = state.settings.base_url.rstrip("/") + str(request.url_for("short_link", code=code).path)
    return render(request, "admin/_link_result.html", {"new_link": link})


async def revoke_links(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_LINKS)
    order_id = _order_id(request)
    await calls.write(
        request,
        access.revoke_links,
        request.app.state.database,
        order_id,
        staff.actor(client_ip(request)),
    )
    return redirect(request, "admin_order", order_id=order_id)


async def exceptions(request: Request) -> Response:
    staff = await require_staff(request, Permission.VIEW_ORDERS)
    state = request.app.state
    alerts = await calls.read(request, list_alerts, state.database)
    quiet = await calls.read(
        request,
        list_silent_return_parcels,
        state.database,
        rules_of(request).refunds.return_silent_after,
    )
    return render(
        request,
        "admin/exceptions.html",
        {
            "staff": staff,
            "alerts": alerts,
            "quiet_returns": quiet,
            "can_check_returns": staff.can(Permission.REVIEW_REFUNDS),
            "now": utcnow(),
        },
    )


# What the order page says after an approval; anything else in ?notice= is ignored.
HOLD_NOTICES = {
    holds.HoldOutcome.RELEASED: N_("Approved: the hold is released and the order can be packed."),
    holds.HoldOutcome.AWAITING_SECOND: N_(
        "Your approval is recorded. A second person must approve this high-value order."
    ),
    holds.HoldOutcome.STILL_HELD: N_(
        "Approved, but the order is still held: its SKU is unknown or the stock is short."
    ),
    "same_person": N_(
        "You approved this order already; the second approval must be someone else's."
    ),
    "nothing_held": N_("This order is no longer on hold."),
}


async def approve_hold(request: Request) -> Response:
    staff = await require_staff(request, Permission.RELEASE_HOLDS)
    order_id = _order_id(request)
    try:
        notice: str = await calls.write(
            request,
            holds.approve_hold,
            request.app.state.database,
            order_id,
            staff.actor(client_ip(request)),
            rules_of(request).intake.lead_times,
        )
    except holds.SecondApproverNeeded:
        notice = "same_person"
    except holds.NothingHeld:
        notice = "nothing_held"
    target = request.url_for("admin_order", order_id=order_id).path
    return RedirectResponse(f"{target}?notice={notice}", status_code=303)


# What the order page says after a warehouse move or a transfer decision.
STOCK_NOTICES = {
    "reallocated": N_("Moved: the units are now reserved at the chosen warehouse."),
    "not_enough_stock": N_("Not moved: that warehouse does not have the free units."),
    "allocation_locked": N_("Not moved: the order is already being picked or packed."),
    "nothing_reserved": N_("Not moved: nothing is reserved for this order or line."),
    "no_warehouse": N_("Not moved: there is no such active warehouse."),
    "transfer_accepted": N_("Transfer accepted: the units moved and the order is reserved."),
    "transfer_accepted_held": N_("Transfer accepted; the order is still short of stock."),
    "transfer_rejected": N_("Transfer rejected."),
    "transfer_impossible": N_("This transfer was decided already or the stock is gone."),
}
NOTICES = {
    **HOLD_NOTICES,
    **STOCK_NOTICES,
    **CANCEL_NOTICES,
    **CORRECTION_NOTICES,
    **RESEND_NOTICES,
    **INTERCEPT_NOTICES,
    **GOODWILL_NOTICES,
    **NOTE_NOTICES,
    **REDIRECT_NOTICES,
}
_MOVE_REFUSALS: dict[type[Exception], str] = {
    warehouses.NotEnoughStock: "not_enough_stock",
    warehouses.AllocationLocked: "allocation_locked",
    warehouses.NothingReserved: "nothing_reserved",
    stock.WarehouseNotFound: "no_warehouse",
}


def _back_to_order(request: Request, order_id: int, notice: str) -> Response:
    target = request.url_for("admin_order", order_id=order_id).path
    return RedirectResponse(f"{target}?notice={notice}", status_code=303)


async def reallocate(request: Request) -> Response:
    staff = await require_staff(request, Permission.ALLOCATE_STOCK)
    order_id, form = _order_id(request), await request.form()
    line = form_text(form, "line", 12)
    if line and not line.isdigit():
        raise HTTPException(400)
    try:
        await calls.write(
            request,
            warehouses.reallocate,
            request.app.state.database,
            order_id,
            form_text(form, "warehouse", 32),
            staff.actor(client_ip(request)),
            int(line) if line else None,
        )
    except tuple(_MOVE_REFUSALS) as refused:
        return _back_to_order(request, order_id, _MOVE_REFUSALS[type(refused)])
    return _back_to_order(request, order_id, "reallocated")


async def decide_transfer(request: Request) -> Response:
    staff = await require_staff(request, Permission.ALLOCATE_STOCK)
    state, form = request.app.state, await request.form()
    proposal_id = int(request.path_params["transfer_id"])
    order_id = _order_id(request)
    actor = staff.actor(client_ip(request))
    try:
        if form_text(form, "verdict", 10) == "reject":
            await calls.write(
                request, transfers.reject_transfer, state.database, order_id, proposal_id, actor
            )
            notice = "transfer_rejected"
        else:
            released = await calls.write(
                request,
                transfers.accept_transfer,
                state.database,
                order_id,
                proposal_id,
                actor,
                rules_of(request).intake.lead_times,
            )
            notice = "transfer_accepted" if released else "transfer_accepted_held"
    except transfers.TransferNotPossible:
        notice = "transfer_impossible"
    return _back_to_order(request, order_id, notice)


async def admin_home(request: Request) -> Response:
    return redirect(request, "admin_orders")


routes = [
    Route("/", admin_home, name="admin_home"),
    Route("/login", login, methods=["GET", "POST"], name="admin_login"),
    Route("/logout", logout, methods=["POST"], name="admin_logout"),
    Route("/orders", orders, name="admin_orders"),
    Route("/exceptions", exceptions, name="admin_exceptions"),
    Route("/orders/{order_id:id}", order_detail, name="admin_order"),
    Route("/orders/{order_id:id}/reveal", reveal, methods=["POST"], name="admin_reveal_contact"),
    Route("/orders/{order_id:id}/links", issue_link, methods=["POST"], name="admin_issue_link"),
    Route(
        "/orders/{order_id:id}/links/revoke",
        revoke_links,
        methods=["POST"],
        name="admin_revoke_links",
    ),
    Route("/orders/{order_id:id}/hold", approve_hold, methods=["POST"], name="admin_approve_hold"),
    Route(
        "/orders/{order_id:id}/allocation",
        reallocate,
        methods=["POST"],
        name="admin_reallocate",
    ),
    Route(
        "/orders/{order_id:id}/transfers/{transfer_id:id}",
        decide_transfer,
        methods=["POST"],
        name="admin_decide_transfer",
    ),
]
