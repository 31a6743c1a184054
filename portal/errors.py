"""Domain errors and HTTP errors mapped to friendly pages, in one place."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from backend.orders import address_changes as changes
from backend.orders.access import LinkExpired, LinkInvalid, LinkRevoked, SessionEnded
from backend.orders.service import OrderNotFound
from portal.i18n import N_
from portal.rendering import is_htmx, render

log = logging.getLogger(__name__)

_LINK_PROBLEMS: dict[type[Exception], tuple[int, str]] = {
    LinkInvalid: (404, N_("This link is not valid. It may have been copied incompletely.")),
    LinkExpired: (410, N_("This link has expired.")),
    LinkRevoked: (410, N_("This link is no longer active. The merchant has sent a newer one.")),
}

_STATUS_MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You do not have access to this page."),
    404: N_("We could not find that page or order."),
    405: N_("That action is not possible here."),
    413: N_("What you sent is too large."),
    429: N_("Too many attempts. Please wait a moment and try again."),
    500: N_("Something went wrong on our side. Please try again shortly."),
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/webhooks/", "/healthz"))


async def link_problem(request: Request, exc: Exception) -> Response:
    status, message = _LINK_PROBLEMS[type(exc)]
    return render(request, "customer/link_problem.html", {"message": message}, status_code=status)


async def session_ended(request: Request, exc: Exception) -> Response:
    """Revoked links end the sessions they opened: to the lookup page, saying why."""
    target = str(request.app.url_path_for("lookup")) + "?notice=session_ended"
    response: Response
    if is_htmx(request):
        # A polling timeline would swap a redirect's page into itself; htmx navigates instead.
        response = Response(status_code=200, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    request.app.state.sessions.sign_out_customer(response)
    return response


def error_page(request: Request, status: int) -> Response:
    message = _STATUS_MESSAGES.get(status, _STATUS_MESSAGES[400])
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "error.html", {"message": message, "status": status}, status_code=status)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_page(request, exc.status_code)


async def not_found(request: Request, exc: Exception) -> Response:
    return error_page(request, 404)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_page(request, 500)


_ADDRESS_PROBLEMS: dict[type[Exception], tuple[int, str]] = {
    changes.AddressChangeNotAllowed: (409, N_("The address of this order cannot be changed now.")),
    changes.VerificationCodeExpired: (
        422,
        N_("The code has expired or was tried too often. Please start again."),
    ),
    changes.TooManyCodes: (429, N_("Too many codes were sent. Please try again in an hour.")),
    changes.AddressChangeNotFound: (
        409,
        N_("This change is no longer waiting for a code. Please start again."),
    ),
}


async def address_problem(request: Request, exc: Exception) -> Response:
    """Lost the race to the pack scan, code expired, limits: said plainly, with a way on."""
    public_no = request.path_params.get("public_no", "")
    tracking = str(request.app.url_path_for("tracking", public_no=public_no))
    edit = str(request.app.url_path_for("address_edit", public_no=public_no))
    context: dict[str, object] = {
        "back_path": tracking,
        "locked_at": None,
        "intercept_path": None,
        "retry_path": None,
        "message": "",
    }
    if isinstance(exc, changes.AddressLocked):
        status = 409
        context |= {"locked_at": exc.locked_at, "intercept_path": edit + "?intercept=1"}
    else:
        status, message = _ADDRESS_PROBLEMS[type(exc)]
        context["message"] = message
        if not isinstance(exc, (changes.AddressChangeNotAllowed, changes.TooManyCodes)):
            context["retry_path"] = edit
    return render(
        request,
        "customer/address_problem.html",
        context,
        partial="customer/_address_problem.html",
        status_code=status,
    )


EXCEPTION_HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    changes.AddressLocked: address_problem,
    **{error: address_problem for error in _ADDRESS_PROBLEMS},
    HTTPException: http_error,
    LinkInvalid: link_problem,
    LinkExpired: link_problem,
    LinkRevoked: link_problem,
    SessionEnded: session_ended,
    OrderNotFound: not_found,
    Exception: server_error,
}
