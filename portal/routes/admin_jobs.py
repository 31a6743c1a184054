"""Staff page of dead jobs: what gave up and why, with a retry for one job or a whole kind."""

from __future__ import annotations

from contextlib import suppress

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend import dead_jobs as dead
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff


async def dead_jobs(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_JOBS)
    listing = await calls.read(request, dead.list_dead_jobs, request.app.state.database)
    return render(request, "admin/jobs.html", {"staff": staff, "dead": listing})


async def retry_one(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_JOBS)
    with suppress(dead.JobNotDead):  # retried meanwhile: the page shows the truth
        await calls.write(
            request,
            dead.retry_dead_job,
            request.app.state.database,
            request.path_params["job_id"],  # {job_id:id}: a plausible id already
            staff.actor(client_ip(request)),
        )
    return redirect(request, "admin_jobs")


async def retry_kind(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_JOBS)
    kind = form_text(await request.form(), "kind", 60)
    if not kind:
        raise HTTPException(400)
    await calls.write(
        request,
        dead.retry_dead_kind,
        request.app.state.database,
        kind,
        staff.actor(client_ip(request)),
    )
    return redirect(request, "admin_jobs")


routes = [
    Route("/jobs", dead_jobs, name="admin_jobs"),
    Route("/jobs/retry", retry_kind, methods=["POST"], name="admin_retry_job_kind"),
    Route("/jobs/{job_id:id}/retry", retry_one, methods=["POST"], name="admin_retry_job"),
]
