"""The staff second factor on the web: the code step of a login, and enrolment with a QR."""

from __future__ import annotations

import segno
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.staff.accounts import LoginLocked
from backend.staff.second_factor import (
    NotEnrolling,
    WrongCode,
    begin_enrolment,
    complete_login,
    confirm_enrolment,
)
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff_session


async def login_code(request: Request) -> Response:
    """Step two of a login: no staff session exists until this code is right."""
    state = request.app.state
    staff_id = state.sessions.pending_staff_id(request)
    if staff_id is None:  # never started, or older than five minutes: the password again
        return redirect(request, "admin_login")
    if request.method == "GET":
        return render(request, "admin/login_code.html", {"error": None})
    code = form_text(await request.form(), "code", 32)
    try:
        login = await calls.write(
            request,
            complete_login,
            state.database,
            staff_id,
            code,
            client_ip(request),
            request.headers.get("user-agent"),
            state.sessions.staff_lifetime,
        )
    except LoginLocked:
        error, status = N_("Too many failed logins. Try again in 15 minutes."), 429
        return render(request, "admin/login_code.html", {"error": error}, status_code=status)
    except WrongCode:
        error = N_("That code is wrong or was used already. Wait for the next code.")
        return render(request, "admin/login_code.html", {"error": error}, status_code=422)
    response = redirect(request, "admin_orders")
    state.sessions.end_second_factor(response)
    state.sessions.sign_in_staff(response, login.session_token)
    return response


def _qr_svg(uri: str) -> Markup:
    # segno's SVG is a single path of the QR modules: no text of ours is in it to escape.
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=2, omitsize=False)
    return Markup(svg)  # noqa: S704 (segno's own SVG markup, built from an otpauth URI)


async def enrol(request: Request) -> Response:
    current = await require_staff_session(request)
    staff = current.identity
    database = request.app.state.database
    actor = staff.actor(client_ip(request))
    if current.second_factor_enrolled:
        return render(request, "admin/second_factor.html", {"staff": staff, "enrolled": True})
    # Even a GET writes here: the new secret is kept, so a reload shows the same QR code.
    enrolment = await calls.write(request, begin_enrolment, database, staff.id, actor)
    context = {
        "staff": staff,
        "enrolled": False,
        "secret": enrolment.secret,
        "qr": _qr_svg(enrolment.uri),
        "error": None,
    }
    if request.method == "GET":
        return render(request, "admin/second_factor.html", context)
    code = form_text(await request.form(), "code", 16)
    try:
        codes = await calls.write(request, confirm_enrolment, database, staff.id, code, actor)
    except WrongCode:
        context["error"] = N_("That code is wrong. Check the phone's clock and try the next code.")
        return render(request, "admin/second_factor.html", context, status_code=422)
    except NotEnrolling:
        return redirect(request, "admin_second_factor")
    return render(
        request,
        "admin/second_factor_codes.html",
        {"staff": staff, "codes": codes},
    )


routes = [
    Route("/login/code", login_code, methods=["GET", "POST"], name="admin_login_code"),
    Route("/second-factor", enrol, methods=["GET", "POST"], name="admin_second_factor"),
]
