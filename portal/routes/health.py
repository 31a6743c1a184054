"""Liveness and database reachability, for load balancers and uptime checks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from portal import calls


async def healthz(request: Request) -> Response:
    healthy = await calls.write(request, request.app.state.database.ping)
    if healthy:
        return JSONResponse({"status": "ok", "database": "ok"})
    return JSONResponse({"status": "degraded", "database": "unreachable"}, status_code=503)


async def ping(request: Request) -> Response:
    """A plaintext endpoint with no database: the baseline the benchmarks compare against."""
    return PlainTextResponse("pong")


routes = [
    Route("/healthz", healthz, name="healthz"),
    Route("/ping", ping, name="ping"),
]
