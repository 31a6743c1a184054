"""The admin's staff page: add, disable and re-enable, change role, reset password or factor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.staff.accounts import (
    CannotDisableSelf,
    LastActiveAdmin,
    StaffNameTaken,
    StaffNotFound,
    add_staff,
    disable_staff,
    enable_staff,
)
from backend.staff.models import Role
from backend.staff.permissions import Permission, StaffIdentity
from backend.staff.roster import change_role, list_staff, reset_password, temporary_password
from backend.staff.second_factor import reset_second_factor
from backend.warehouse_logins import (
    NoSuchWarehouse,
    NotAWarehouseLogin,
    assign_warehouse,
    list_warehouse_codes,
)
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff

# ?done=... after a change: the page says what happened, in the page's language.
DONE = {
    "added": N_("Staff member added."),
    "disabled": N_("Account disabled; its sessions have ended."),
    "enabled": N_("Account enabled again."),
    "role": N_("Role changed; it applies from their next page."),
    "factor": N_("Second factor reset; they enrol again at their next login."),
    "warehouse": N_("Warehouse changed; from their next page they see only its orders."),
}


async def _page(
    request: Request,
    staff: StaffIdentity,
    *,
    error: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    members = await calls.read(
        request, list_staff, request.app.state.database, staff.actor(client_ip(request))
    )
    context = {
        "staff": staff,
        "members": members,
        "roles": list(Role),
        "warehouses": await calls.read(request, list_warehouse_codes, request.app.state.database),
        "error": error,
        "done": DONE.get(request.query_params.get("done", "")),
        "new_password": None,
        "form": {"name": "", "role": ""},
        **extra,
    }
    return render(request, "admin/staff.html", context, status_code=status_code)


async def staff_list(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_STAFF)
    return await _page(request, staff)


def _role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise HTTPException(400) from None


async def add(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_STAFF)
    form = await request.form()
    name, password = form_text(form, "name", 64), form_text(form, "password", 256)
    role = _role(form_text(form, "role", 20))
    filled = {"name": name, "role": str(role)}
    try:
        await calls.write(
            request,
            add_staff,
            request.app.state.database,
            name,
            role,
            password,
            staff.actor(client_ip(request)),
        )
    except StaffNameTaken:
        error = N_("That name is taken. Choose another.")
        return await _page(request, staff, error=error, status_code=409, form=filled)
    except ValueError:  # an empty or long name, or a password under 8 characters
        error = N_("A name is 1 to 64 characters and a password at least 8.")
        return await _page(request, staff, error=error, status_code=422, form=filled)
    return _done(request, "added")


def _done(request: Request, done: str) -> Response:
    response = redirect(request, "admin_staff")
    response.headers["location"] += f"?done={done}"
    return response


async def _member_change(request: Request, change: Callable[..., Any], *args: Any) -> Any:
    """Runs a change on the member the form names; a garbled or unknown name is a 404."""
    staff: StaffIdentity = request.state.staff
    name = form_text(await request.form(), "name", 64)
    if not name:
        raise HTTPException(400)
    try:
        return await calls.write(
            request,
            change,
            request.app.state.database,
            name,
            *args,
            staff.actor(client_ip(request)),
        )
    except StaffNotFound:
        raise HTTPException(404) from None


_REFUSED = {
    CannotDisableSelf: N_("You cannot disable your own account."),
    LastActiveAdmin: N_("This is the last active administrator: add or enable another first."),
}


async def disable(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_STAFF)
    try:
        await _member_change(request, disable_staff)
    except (CannotDisableSelf, LastActiveAdmin) as refused:
        return await _page(request, staff, error=_REFUSED[type(refused)], status_code=409)
    return _done(request, "disabled")


async def enable(request: Request) -> Response:
    await require_staff(request, Permission.MANAGE_STAFF)
    await _member_change(request, enable_staff)
    return _done(request, "enabled")


async def role(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_STAFF)
    new_role = _role(form_text(await request.form(), "role", 20))
    try:
        await _member_change(request, change_role, new_role)
    except LastActiveAdmin as refused:
        return await _page(request, staff, error=_REFUSED[type(refused)], status_code=409)
    return _done(request, "role")


async def warehouse(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_STAFF)
    code = form_text(await request.form(), "warehouse", 32) or None
    try:
        await _member_change(request, assign_warehouse, code)
    except NotAWarehouseLogin:
        error = N_("Only a warehouse login is tied to a warehouse.")
        return await _page(request, staff, error=error, status_code=409)
    except NoSuchWarehouse:
        error = N_("There is no such warehouse.")
        return await _page(request, staff, error=error, status_code=422)
    return _done(request, "warehouse")


async def password(request: Request) -> Response:
    """A typed password, or none: then a temporary one, shown once on the page that answers."""
    staff = await require_staff(request, Permission.MANAGE_STAFF)
    form = await request.form()
    typed = form_text(form, "password", 256)
    new_password = typed or temporary_password()
    name = form_text(form, "name", 64)
    try:
        await _member_change(request, reset_password, new_password)
    except ValueError:
        error = N_("A password has at least 8 characters.")
        return await _page(request, staff, error=error, status_code=422)
    except PermissionError:  # their own: that is a password change, not a reset
        raise HTTPException(400) from None
    shown = None if typed else {"name": name, "password": new_password}
    return await _page(request, staff, new_password=shown)


async def second_factor(request: Request) -> Response:
    await require_staff(request, Permission.MANAGE_STAFF)
    await _member_change(request, reset_second_factor)
    return _done(request, "factor")


routes = [
    Route("/staff", staff_list, name="admin_staff"),
    Route("/staff/add", add, methods=["POST"], name="admin_staff_add"),
    Route("/staff/disable", disable, methods=["POST"], name="admin_staff_disable"),
    Route("/staff/enable", enable, methods=["POST"], name="admin_staff_enable"),
    Route("/staff/role", role, methods=["POST"], name="admin_staff_role"),
    Route("/staff/warehouse", warehouse, methods=["POST"], name="admin_staff_warehouse"),
    Route("/staff/password", password, methods=["POST"], name="admin_staff_password"),
    Route("/staff/second-factor", second_factor, methods=["POST"], name="admin_staff_factor"),
]
