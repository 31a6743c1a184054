"""Domain errors and HTTP errors mapped to friendly pages, in one place."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend.orders.access import LinkExpired, LinkInvalid, LinkRevoked
from backend.orders.service import OrderNotFound
from portal.i18n import N_
from portal.rendering import render

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


EXCEPTION_HANDLERS = {
    HTTPException: http_error,
    LinkInvalid: link_problem,
    LinkExpired: link_problem,
    LinkRevoked: link_problem,
    OrderNotFound: not_found,
    Exception: server_error,
}
