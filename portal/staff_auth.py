"""Who is the staff member behind a request, and may they do this."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from backend.clock import utcnow
from backend.staff.accounts import CurrentStaffSession, get_staff_session, touch_staff_session
from backend.staff.permissions import Permission, StaffIdentity
from portal import calls
from portal.rendering import redirect
from portal.sessions import STAFF_COOKIE


class StaffLoginRequired(Exception):
    """No live staff session (none, ended, expired, or the account disabled): log in."""


async def current_staff_session(request: Request) -> CurrentStaffSession | None:
    """The session the cookie names, if the server still holds it live: one query."""
    token = request.app.state.sessions.staff_token(request)
    if token is None:
        return None
    current: CurrentStaffSession | None = await calls.read(
        request, get_staff_session, request.app.state.database, token
    )
    return current


async def require_staff(request: Request, permission: Permission) -> StaffIdentity:
    current = await current_staff_session(request)
    if current is None:
        raise StaffLoginRequired
    staff = current.identity
    if not staff.can(permission):
        raise HTTPException(403)
    if current.needs_touch(utcnow()):
        await calls.write(
            request, touch_staff_session, request.app.state.database, current.session_id
        )
    request.state.staff = staff
    return staff


async def login_redirect(request: Request, exc: Exception) -> Response:
    response = redirect(request, "admin_login")
    if STAFF_COOKIE in request.cookies:
        # The server no longer honours it; the browser need not keep sending it.
        request.app.state.sessions.sign_out_staff(response)
    return response
