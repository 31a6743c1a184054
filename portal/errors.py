"""Domain errors and HTTP errors mapped to friendly pages, in one place."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from backend.db import is_unavailable
from backend.invoices.lifecycle import InvoiceTransitionNotAllowed
from backend.invoices.service import InvoiceNotAllowed, InvoiceNotFound
from backend.orders import address_changes as changes
from backend.orders.access import LinkExpired, LinkInvalid, LinkRevoked, SessionEnded
from backend.orders.completion import ReceiptNotConfirmable, ReceiptNotYours
from backend.orders.service import OrderNotFound
from backend.refunds import cancellation
from backend.refunds.cancel_lifecycle import CancelPath, CancelTransitionNotAllowed
from backend.refunds.in_transit_staff import InTransitRequestNotFound, NothingLeftToRefund
from backend.staff.permissions import PermissionDenied
from backend.support import service as support
from portal import i18n
from portal.calls import WriterBusy
from portal.i18n import N_
from portal.rendering import is_htmx, render
from portal.routes.webhooks import UNAVAILABLE_REPLIES

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 10

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
    503: N_("The service is briefly unavailable. Please try again in a moment."),
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


def error_page(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    message = _STATUS_MESSAGES.get(status, _STATUS_MESSAGES[400])
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    context = {"message": message, "status": status}
    return render(request, "error.html", context, status_code=status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_page(request, exc.status_code)


async def not_found(request: Request, exc: Exception) -> Response:
    return error_page(request, 404)


async def permission_denied(request: Request, exc: Exception) -> Response:
    """A service refused the actor: the page's own check let through what the backend won't."""
    log.warning("permission denied on %s %s: %s", request.method, request.url.path, exc)
    return error_page(request, 403)


async def conflict(request: Request, exc: Exception) -> Response:
    """The thing was already decided (issued twice, a second request): nothing changed."""
    return error_page(request, 409)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_page(request, 500)


class OutageLog:
    """One warning when the database stops answering and one info line when it is back.

    During an outage every request answers 503; a traceback each would bury the one
    fact that matters. It is over when a write or a health check succeeds again (reads
    alone say nothing about SQLite's write lock). Used from the event loop only.
    """

    def __init__(self) -> None:
        self.since: float | None = None
        self.refused = 0

    def request_refused(self, reason: str) -> None:
        self.refused += 1
        if self.since is None:
            self.since = time.monotonic()
            log.warning("database unavailable (%s); answering 503 until it is back", reason)

    def database_works(self) -> None:
        if self.since is None:
            return
        seconds, refused = time.monotonic() - self.since, self.refused
        self.since, self.refused = None, 0
        log.info("database available again after %.1f s; %d answers were 503", seconds, refused)


def _outage_reason(exc: Exception) -> str:
    if isinstance(exc, WriterBusy):
        return "no writer came free within a request's time"
    if isinstance(exc, sa_exc.TimeoutError):
        return "no pooled connection came free in time"
    original = getattr(exc, "orig", None) or exc
    # The driver's own words only: SQLAlchemy's text would add the statement and its values.
    first_line = (str(original).strip().splitlines() or [""])[0]
    return f"{type(original).__name__}: {first_line[:200]}"


def unavailable(request: Request) -> Response:
    """503 in the caller's language: a provider's own refusal, JSON, or a friendly page."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    endpoint = request.scope.get("endpoint")  # the matched route's function, if any
    reply = UNAVAILABLE_REPLIES.get(endpoint) if endpoint else None
    if isinstance(reply, str):
        return PlainTextResponse(reply, status_code=503, headers=headers)
    if reply is not None:
        return JSONResponse(reply, status_code=503, headers=headers)
    return error_page(request, 503, headers)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """An outage answers 503 and is logged once; any other database error is a bug (500)."""
    if not isinstance(exc, WriterBusy) and not is_unavailable(exc):
        raise exc
    request.app.state.outage.request_refused(_outage_reason(exc))
    return unavailable(request)


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
        "locked": False,
        "locked_at": None,
        "intercept_path": None,
        "retry_path": None,
        "message": "",
    }
    if isinstance(exc, changes.AddressLocked):
        status = 409
        context |= {
            "locked": True,
            "locked_at": exc.locked_at,
            "intercept_path": edit + "?intercept=1",
        }
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
        # The refusal ends this step: htmx replaces the step's whole card, not just the form.
        headers={"HX-Retarget": "#address_step", "HX-Reswap": "outerHTML"},
    )


_SUPPORT_PROBLEMS: dict[type[Exception], tuple[int, str]] = {
    support.ReminderAlreadySentToday: (
        429,
        N_("You already sent a reminder today. You can send another one tomorrow."),
    ),
    support.ReminderNotNeeded: (
        409,
        N_("A reminder can be sent once the promised shipping time has passed."),
    ),
    support.MessageEmpty: (422, N_("Please write your message first.")),
    support.MessageTooLong: (422, N_("Your message is too long: at most %(limit)s characters.")),
    support.TooManyOpenMessages: (
        429,
        N_("Customer service has not answered your earlier messages yet. Please wait for them."),
    ),
    ReceiptNotConfirmable: (
        409,
        N_("Receipt can be confirmed only once the parcel has been delivered."),
    ),
}


_CANCEL_REFUSALS: dict[CancelPath, str] = {
    CancelPath.IN_TRANSIT: N_(
        "The carrier already has your parcel, so it can no longer simply be cancelled. "
        "Customer service can ask the carrier to send it back, or you can refuse it on "
        "delivery (拒收)."
    ),
    CancelPath.PLATFORM: N_(
        "This order's cancellations and refunds are handled by the shop's platform. "
        "Open the order in that app and cancel it there."
    ),
}
_CANCEL_NOT_HERE = N_(
    "This order can no longer be cancelled here. For a return or refund, use After-sale "
    "on the order page."
)


async def cancel_problem(request: Request, exc: Exception) -> Response:
    """A cancel refused (it moved on, or is not ours to cancel), or a tampered reason."""
    if isinstance(exc, cancellation.CancelReasonInvalid):
        status, message = 422, N_("Please choose one of the reasons.")
    else:
        assert isinstance(exc, cancellation.CancelNotAllowed)
        status, message = 409, _CANCEL_REFUSALS.get(exc.path, _CANCEL_NOT_HERE)
    public_no = request.path_params.get("public_no", "")
    context = {
        "message": i18n.gettext(message),
        "back_path": request.app.url_path_for("tracking", public_no=public_no),
    }
    return render(request, "customer/cancel_problem.html", context, status_code=status)


async def support_problem(request: Request, exc: Exception) -> Response:
    """A refused 催发货, message or 确认收货: said plainly; htmx shows it inside the card."""
    status, message = _SUPPORT_PROBLEMS[type(exc)]
    text = i18n.gettext(message)
    if isinstance(exc, support.MessageTooLong):
        text = text % {"limit": exc.limit}
    public_no = request.path_params.get("public_no", "")
    context = {
        "message": text,
        "back_path": request.app.url_path_for("tracking", public_no=public_no),
    }
    return render(
        request,
        "customer/support_problem.html",
        context,
        partial="customer/_support_problem.html",
        status_code=status,
        # Only the refusal's slot changes: a typed message stays in its box to be fixed.
        headers={"HX-Retarget": "#support_problem", "HX-Reswap": "outerHTML"},
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
    InvoiceNotFound: not_found,
    InvoiceNotAllowed: conflict,
    InvoiceTransitionNotAllowed: conflict,
    InTransitRequestNotFound: conflict,
    NothingLeftToRefund: conflict,
    **{error: support_problem for error in _SUPPORT_PROBLEMS},
    cancellation.CancelNotAllowed: cancel_problem,
    cancellation.CancelReasonInvalid: cancel_problem,
    cancellation.CancelNotYours: not_found,
    cancellation.CancellationNotFound: not_found,
    CancelTransitionNotAllowed: conflict,
    # The routes find the order through the customer's session first; these are tampering.
    support.SupportOrderNotFound: not_found,
    support.SupportNotYours: not_found,
    ReceiptNotYours: not_found,
    # Every SQLAlchemy error passes here; only an outage stays, the rest go on to the 500.
    sa_exc.SQLAlchemyError: database_unavailable,
    WriterBusy: database_unavailable,
    PermissionDenied: permission_denied,
    Exception: server_error,
}
