"""A staff member's own password change: forced after an admin's reset, open any time."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.staff.accounts import InvalidCredentials, change_own_password
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff_session


async def own_password(request: Request) -> Response:
    current = await require_staff_session(request)
    staff = current.identity
    context = {"staff": staff, "forced": current.password_change_required, "error": None}
    if request.method == "GET":
        return render(request, "admin/own_password.html", context)
    form = await request.form()
    old, new = form_text(form, "current", 256), form_text(form, "password", 256)
    if new != form_text(form, "again", 256):
        context["error"] = N_("The two new passwords differ.")
        return render(request, "admin/own_password.html", context, status_code=422)
    try:
        await calls.write(
            request,
            change_own_password,
            request.app.state.database,
            staff.id,
            current.session_id,
            old,
            new,
            staff.actor(client_ip(request)),
        )
    except InvalidCredentials:
        context["error"] = N_("The current password is wrong.")
        return render(request, "admin/own_password.html", context, status_code=422)
    except ValueError:  # too short, or the same as the old one
        context["error"] = N_("Choose a new password of at least 8 characters, not the old one.")
        return render(request, "admin/own_password.html", context, status_code=422)
    return redirect(request, "admin_orders")


routes = [Route("/password", own_password, methods=["GET", "POST"], name="admin_own_password")]
