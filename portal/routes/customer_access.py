"""How a customer gets in: SMS short codes, signed links and the lookup form."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.actors import Actor, ActorKind
from backend.funnel import FunnelStep
from backend.orders import access
from backend.tracking_page import TrackingHead, get_tracking_head
from portal import calls
from portal.forms import form_text
from portal.i18n import LOCALE_COOKIE, LOCALES, N_
from portal.rendering import redirect, render

NOT_FOUND_MESSAGE = N_("No order matches that order number and phone number. Please check both.")
LIMITED_MESSAGE = N_("Too many attempts. Please wait 15 minutes and try again.")
# Messages a redirect may ask the lookup page to show; anything else in ?notice= is ignored.
NOTICES = {
    "session_ended": N_(
        "The shop has withdrawn the link you used, so this visit has ended. "
        "Open the newest link from the shop, or look up your order below."
    ),
}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def customer_actor(request: Request, public_no: str) -> Actor:
    """The customer acting from one order's page; the verbs check the order is that one."""
    return Actor(
        ActorKind.CUSTOMER, f"customer:{public_no}", ip=client_ip(request), channel="portal"
    )


async def customer_order_head(request: Request) -> TrackingHead:
    """The order in the path, only for the customer whose session it is; anyone else 404.

    Every customer page of one order starts here (the tracking head is its first query).
    """
    customer = request.app.state.sessions.customer(request)
    head = None
    if customer is not None:
        database, public_no = request.app.state.database, request.path_params["public_no"]
        head = await calls.read(request, get_tracking_head, database, public_no, customer)
    if head is None:
        raise HTTPException(404)
    return head


def _enter(request: Request, grant: access.CustomerGrant) -> Response:
    target = request.url_for("tracking", public_no=grant.public_no).path
    if request.headers.get("hx-request") == "true":
        # An XHR would follow a 303 into the swap; htmx navigates on HX-Redirect instead.
        response: Response = Response(status_code=200, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    request.app.state.sessions.sign_in_customer(response, grant.session)
    request.app.state.funnel.count(FunnelStep.LINK_OPENED)
    return response


async def short_link(request: Request) -> Response:
    grant = await calls.read(
        request, access.resolve_short_link, request.app.state.database, request.path_params["code"]
    )
    return _enter(request, grant)


async def signed_link(request: Request) -> Response:
    state = request.app.state
    grant = await calls.read(
        request,
        access.resolve_signed_link,
        state.database,
        state.link_signer,
        request.path_params["token"],
    )
    return _enter(request, grant)


def _lookup_form(
    request: Request,
    values: dict[str, str],
    error: str | None,
    status: int,
    notice: str | None = None,
) -> Response:
    return render(
        request,
        "customer/lookup.html",
        {"values": values, "error": error, "notice": notice},
        partial="customer/_lookup_form.html",
        status_code=status,
    )


async def lookup(request: Request) -> Response:
    if request.method == "GET":
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return _lookup_form(request, {"order_no": "", "phone_last4": ""}, None, 200, notice)
    form = await request.form()
    values = {
        "order_no": form_text(form, "order_no", 64),
        "phone_last4": form_text(form, "phone_last4", 8),
    }
    try:
        grant = await calls.write(
            request,
            access.lookup_order,
            request.app.state.database,
            values["order_no"],
            values["phone_last4"],
            client_ip(request),
        )
    except access.LookupRateLimited:
        return _lookup_form(request, values, LIMITED_MESSAGE, 429)
    except access.LookupNotFound:
        return _lookup_form(request, values, NOT_FOUND_MESSAGE, 422)
    return _enter(request, grant)


async def home(request: Request) -> Response:
    if request.app.state.sessions.customer(request) is not None:
        return redirect(request, "orders")
    return redirect(request, "lookup")


async def language(request: Request) -> Response:
    locale = request.query_params.get("to", "")
    target = request.query_params.get("next", "/")
    # Only a local path: the switch must never become an open redirect.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/"
    response = RedirectResponse(target, status_code=303)
    if locale in LOCALES:
        response.set_cookie(
            LOCALE_COOKIE, locale, max_age=365 * 86400, samesite="lax", httponly=True
        )
    return response


routes = [
    Route("/", home, name="home"),
    Route("/t/{code}", short_link, name="short_link"),
    Route("/o/{token}", signed_link, name="signed_link"),
    Route("/lookup", lookup, methods=["GET", "POST"], name="lookup"),
    Route("/language", language, name="language"),
]
