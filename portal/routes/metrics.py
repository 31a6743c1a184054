"""/metrics for Prometheus, behind a bearer token (PORTAL_METRICS_TOKEN; unset: no such page).

On the public port rather than a port of its own: with several `portal serve` workers
sharing one socket, whichever one answers a scrape reads every process's counters from
PROMETHEUS_MULTIPROC_DIR, where an internal port would have to be one per process.
"""

from __future__ import annotations

import hmac
import os

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from portal.metrics import PortalMetrics


def _is_authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _exposition(metrics: PortalMetrics, database_figures: Collector) -> bytes:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(metrics.registry)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    registry.register(database_figures)
    return generate_latest(registry)


async def metrics(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if not token:
        raise HTTPException(404)
    if not _is_authorized(request, token):
        return PlainTextResponse(
            "a bearer token is required", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    body = await anyio.to_thread.run_sync(
        _exposition, request.app.state.metrics, request.app.state.database_figures
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


routes = [Route("/metrics", metrics, name="metrics")]
