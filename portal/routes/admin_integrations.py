"""Staff page of integration health: breakers over every process, last pushes, dead jobs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend import integration_health
from backend.operations import CHANNEL_SILENT_AFTER
from backend.staff.permissions import Permission
from portal import calls
from portal.rendering import render
from portal.staff_auth import require_staff


async def integrations(request: Request) -> Response:
    # The people who retry dead jobs are the ones who need to know a provider is down.
    staff = await require_staff(request, Permission.MANAGE_JOBS)
    health = await calls.read(
        request, integration_health.get_integration_health, request.app.state.database
    )
    return render(
        request,
        "admin/integrations.html",
        {
            "staff": staff,
            "health": health,
            "fresh_minutes": int(integration_health.FRESH_FOR.total_seconds() // 60),
            "quiet_minutes": int(CHANNEL_SILENT_AFTER.total_seconds() // 60),
        },
    )


routes = [Route("/integrations", integrations, name="admin_integrations")]
