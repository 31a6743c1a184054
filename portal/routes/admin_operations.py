"""The operations page: the dashboard figures, the red queue by team, quiet channels."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend import operations
from backend.clock import utcnow
from backend.orders.holds import Team
from backend.staff.permissions import Permission
from backend.support.service import list_support_queue
from portal import calls
from portal.rendering import render
from portal.staff_auth import require_staff


def _load(database):
    now = utcnow()
    return (
        operations.get_dashboard(database, now),
        operations.list_queue(database, now),
        operations.quiet_channels(database, now),
        list_support_queue(database),
        now,
    )


async def overview(request: Request) -> Response:
    staff = await require_staff(request, Permission.VIEW_ORDERS)
    dashboard, queue, quiet, waiting, now = await calls.read(
        request, _load, request.app.state.database
    )
    teams = {
        team: [item for item in queue if item.team == team and item.substitute is None]
        for team in Team
    }
    substituted = {
        role: [item for item in queue if item.substitute == role] for role in operations.SUBSTITUTES
    }
    return render(
        request,
        "admin/operations.html",
        {
            "staff": staff,
            "dashboard": dashboard,
            "teams": teams,
            "substituted": {role: items for role, items in substituted.items() if items},
            "quiet": quiet,
            "waiting": waiting,
            "now": now,
        },
    )


routes = [Route("/operations", overview, name="admin_operations")]
