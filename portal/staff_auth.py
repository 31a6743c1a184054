"""Who is the staff member behind a request, and may they do this."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from backend.staff.accounts import get_staff
from backend.staff.permissions import Permission, StaffIdentity
from portal import calls
from portal.rendering import redirect


class StaffLoginRequired(Exception):
    """No valid staff session: the visitor is sent to the login page."""


async def require_staff(request: Request, permission: Permission) -> StaffIdentity:
    staff_id = request.app.state.sessions.staff_id(request)
    staff = None
    if staff_id is not None:
        staff = await calls.read(request, get_staff, request.app.state.database, staff_id)
    if staff is None:
        raise StaffLoginRequired
    if not staff.can(permission):
        raise HTTPException(403)
    request.state.staff = staff
    return staff


async def login_redirect(request: Request, exc: Exception) -> Response:
    return redirect(request, "admin_login")
