"""Liveness and database reachability, for load balancers and uptime checks."""

from __future__ import annotations

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from backend.db import Database, Health
from portal.errors import RETRY_AFTER_SECONDS

# Health answers within 2 s whatever the database does: it never queues behind the
# writer thread, waits at most LOCK_WAIT_SECONDS for SQLite's lock, and gives up on a
# database that does not answer at all (the thread is left to finish on its own).
LOCK_WAIT_SECONDS = 0.5
ANSWER_WITHIN_SECONDS = 1.5


async def healthz(request: Request) -> Response:
    database: Database = request.app.state.database
    health = Health.UNREACHABLE
    with anyio.move_on_after(ANSWER_WITHIN_SECONDS):
        health = await anyio.to_thread.run_sync(
            database.check_health, LOCK_WAIT_SECONDS, abandon_on_cancel=True
        )
    outage = request.app.state.outage
    if health == Health.OK:
        outage.database_works()
        return JSONResponse({"status": "ok", "database": "ok"})
    outage.request_refused(f"health check: database {health}")
    return JSONResponse(
        {"status": "degraded", "database": str(health)},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def ping(request: Request) -> Response:
    """A plaintext endpoint with no database: the baseline the benchmarks compare against."""
    return PlainTextResponse("pong")


routes = [
    Route("/healthz", healthz, name="healthz"),
    Route("/ping", ping, name="ping"),
]
