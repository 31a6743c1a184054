"""The process's own counters (requests by route, webhook deliveries, page-cache lookups).

Each app holds its own registry, so two apps in one process (the tests) count apart.
With PROMETHEUS_MULTIPROC_DIR set (several `portal serve` workers on one machine),
prometheus_client keeps every value in a file of that directory instead, and /metrics
adds up the files of every process (portal/routes/metrics.py). Nothing here is a gauge
of the process's own, so no process has to be marked dead when it exits.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Route names of the push endpoints -> the source they are counted under. The
# webhook test fails when a POST route under /webhooks is missing here.
WEBHOOK_SOURCES = {
    "webhook_kuaidi100": "kuaidi100",
    "webhook_sf": "sf",
    "webhook_shopify": "shopify",
    "webhook_shopify_shop": "shopify",
    "webhook_channel": "channels",
    "webhook_channel_shop": "channels",
    "webhook_erp_waybills": "erp",
    "webhook_wechatpay_refund": "wechatpay",
    "webhook_alipay_notify": "alipay",
    "wechat_push": "wechat_push",
}
UNMATCHED = "<unmatched>"  # no route: 404s and slash redirects, never the raw path
# Any token is a method to uvicorn; a label per made-up one would grow without end.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def check_multiprocess_directory() -> None:
    """A PROMETHEUS_MULTIPROC_DIR that is not a directory stops the start, not a scrape."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and not Path(directory).is_dir():
        raise ValueError(f"PROMETHEUS_MULTIPROC_DIR: {directory} is not a directory")


def delivery_outcome(status: int) -> str:
    """Providers read 2xx as taken, 4xx as refused for good, anything else as "again later"."""
    if 200 <= status < 300:
        return "accepted"
    return "rejected" if 400 <= status < 500 else "failed"


class PortalMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_seconds = Histogram(
            "portal_http_request_duration_seconds",
            "Time from request to the end of the response, by route template",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "portal_webhook_deliveries",
            "Provider pushes by source and outcome (accepted, rejected 4xx, failed 5xx)",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.page_cache_lookups = Counter(
            "portal_page_cache_lookups",
            "Rendered tracking page lookups in this process's cache, hit or miss",
            ["result"],
            registry=self.registry,
        )

    def page_cache_lookup(self, hit: bool) -> None:
        self.page_cache_lookups.labels("hit" if hit else "miss").inc()


def route_templates(routes: list[BaseRoute], prefix: str = "") -> dict[int, str]:
    """id(route) -> its full path template ("/webhooks/sf/{token}"), mounts included."""
    templates: dict[int, str] = {}
    for route in routes:
        if isinstance(route, Route):
            templates[id(route)] = prefix + route.path
        elif isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            if inner:
                templates |= route_templates(list(inner), prefix + route.path)
            templates[id(route)] = prefix + route.path + "/{path}"
    return templates


class MetricsMiddleware:
    """Times every request by route template and counts the providers' pushes.

    Outermost, so a 500 and the time of every middleware count too. The router records
    the route it chose in the scope; its template is looked up, never read from the path.
    """

    def __init__(self, app: ASGIApp, metrics: PortalMetrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = route_templates(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self._count(scope, status, time.perf_counter() - started)

    def _count(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = self.templates.get(id(route), UNMATCHED) if route is not None else UNMATCHED
        method = scope["method"] if scope["method"] in METHODS else "other"
        self.metrics.request_seconds.labels(method, template, str(status)).observe(seconds)
        source = WEBHOOK_SOURCES.get(getattr(route, "name", None) or "")
        if source is not None and isinstance(route, Route) and scope["method"] == "POST":
            self.metrics.webhook_deliveries.labels(source, delivery_outcome(status)).inc()
