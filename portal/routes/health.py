"""Liveness, readiness and database health, for supervisors, load balancers and uptime checks.

- /livez: the process answers; no I/O, so a slow database never gets a live process killed.
- /readyz: the database answers and its schema is the code's (migrations at head): send
  traffic here. 503 otherwise, with what is missing.
- /healthz: can a write start now (SQLite's lock, a read-only standby); kept for the checks
  that already use it.
"""

from __future__ import annotations

from functools import cache

import anyio
import anyio.to_thread
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from backend.db import Database, Health
from backend.migrate import database_revision, head_revision
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


async def livez(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


def _readiness(database: Database, head: str) -> dict[str, str]:
    try:
        revision = database_revision(database)
    except SQLAlchemyError:
        return {"status": "not ready", "database": "unreachable"}
    if revision != head:
        return {
            "status": "not ready",
            "database": "ok",
            "schema": f"{revision or 'none'} (code: {head})",
        }
    return {"status": "ready", "database": "ok", "schema": head}


async def readyz(request: Request) -> Response:
    database: Database = request.app.state.database
    head = _head_revision()
    answer = {"status": "not ready", "database": "unreachable"}
    with anyio.move_on_after(ANSWER_WITHIN_SECONDS):
        answer = await anyio.to_thread.run_sync(_readiness, database, head, abandon_on_cancel=True)
    if answer["status"] == "ready":
        return JSONResponse(answer)
    return JSONResponse(answer, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


@cache
def _head_revision() -> str:
    return head_revision()  # the migration files do not change while the process runs


async def ping(request: Request) -> Response:
    """A plaintext endpoint with no database: the baseline the benchmarks compare against."""
    return PlainTextResponse("pong")


routes = [
    Route("/healthz", healthz, name="healthz"),
    Route("/livez", livez, name="livez"),
    Route("/readyz", readyz, name="readyz"),
    Route("/ping", ping, name="ping"),
]
