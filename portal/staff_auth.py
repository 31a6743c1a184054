"""Who is the staff member behind a request, and may they do this."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from backend.clock import utcnow
from backend.staff.accounts import CurrentStaffSession, get_staff_session, touch_staff_session
from backend.staff.permissions import Permission, StaffIdentity
from backend.staff.second_factor import second_factor_required
from backend.warehouse_logins import order_in_scope
from portal import calls
from portal.rendering import redirect
from portal.sessions import STAFF_COOKIE


class StaffLoginRequired(Exception):
    """No live staff session (none, ended, expired, or the account disabled): log in."""


class PasswordChangeRequired(Exception):
    """An admin reset the password: the member sets their own before any other page."""


class SecondFactorEnrolmentRequired(Exception):
    """The role requires a second factor and none is enrolled: only enrolment is open."""


async def current_staff_session(request: Request) -> CurrentStaffSession | None:
    """The session the cookie names, if the server still holds it live: one query."""
    token = request.app.state.sessions.staff_token(request)
    if token is None:
        return None
    current: CurrentStaffSession | None = await calls.read(
        request, get_staff_session, request.app.state.database, token
    )
    return current


async def require_staff_session(request: Request) -> CurrentStaffSession:
    """Logged in, whatever the role and whether or not a second factor is enrolled yet."""
    current = await current_staff_session(request)
    if current is None:
        raise StaffLoginRequired
    return current


async def require_staff(request: Request, permission: Permission) -> StaffIdentity:
    current = await require_staff_session(request)
    staff = current.identity
    if current.password_change_required:
        raise PasswordChangeRequired
    if (
        request.app.state.settings.staff_second_factor_required
        and second_factor_required(staff.role)
        and not current.second_factor_enrolled
    ):
        raise SecondFactorEnrolmentRequired
    if not staff.can(permission):
        raise HTTPException(403)
    order_id = request.path_params.get("order_id")
    if order_id is not None and not await calls.read(
        request, order_in_scope, request.app.state.database, int(order_id), staff.warehouse_id
    ):
        # Another warehouse's order answers as a missing one: nothing to learn from it.
        raise HTTPException(404)
    if current.needs_touch(utcnow()):
        await calls.write(
            request, touch_staff_session, request.app.state.database, current.session_id
        )
    request.state.staff = staff
    return staff


async def enrolment_redirect(request: Request, exc: Exception) -> Response:
    return redirect(request, "admin_second_factor")


async def password_change_redirect(request: Request, exc: Exception) -> Response:
    return redirect(request, "admin_own_password")


async def login_redirect(request: Request, exc: Exception) -> Response:
    response = redirect(request, "admin_login")
    if STAFF_COOKIE in request.cookies:
        # The server no longer honours it; the browser need not keep sending it.
        request.app.state.sessions.sign_out_staff(response)
    return response
