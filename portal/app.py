"""create_app(settings): the Starlette application, its middleware and its mounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.db import Database
from backend.orders.access import LinkSigner
from backend.refunds.photos import PhotoStore
from portal import calls, i18n
from portal.background import EmbeddedWorker, build_worker
from portal.errors import EXCEPTION_HANDLERS, OutageLog
from portal.funnel_counter import FunnelCounter
from portal.integrations import build_integrations, packing_config
from portal.metrics import MetricsMiddleware, PortalMetrics
from portal.metrics_collector import DatabaseCollector
from portal.miniprogram import MiniProgram
from portal.page_cache import PageCache
from portal.rendering import build_templates
from portal.request_id import RequestIdMiddleware
from portal.routes import (
    address,
    admin,
    admin_cancellations,
    admin_confirmations,
    admin_customers,
    admin_exchanges,
    admin_finance,
    admin_goodwill,
    admin_in_transit,
    admin_integrations,
    admin_intercepts,
    admin_invoices,
    admin_jobs,
    admin_messages,
    admin_operations,
    admin_order_cancel,
    admin_own_password,
    admin_redirect,
    admin_requests,
    admin_returns,
    admin_rules,
    admin_second_factor,
    admin_staff,
    admin_support,
    admin_waybill_corrections,
    admin_waybill_import,
    admin_waybills,
    cancel,
    customer_access,
    exchanges,
    health,
    history,
    in_transit,
    invoices,
    metrics,
    miniprogram,
    returns,
    support,
    tracking,
    warehouse,
    warehouse_packing,
    webhooks,
    wechat_files,
    wechat_oauth,
    wechat_push,
)
from portal.rules_in_force import RulesInForce
from portal.security import CSRFMiddleware, SecurityHeadersMiddleware
from portal.sessions import Sessions
from portal.settings import Settings, load_settings
from portal.staff_auth import (
    PasswordChangeRequired,
    SecondFactorEnrolmentRequired,
    StaffLoginRequired,
    enrolment_redirect,
    login_redirect,
    password_change_redirect,
)
from portal.wechat_oauth import WeChatOAuth

STATIC_DIR = Path(__file__).parent / "static"


class LocaleMiddleware:
    """The customer's language: their cookie if they chose one, else the merchant's default."""

    def __init__(self, app: ASGIApp, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        locale = self.default
        if scope["type"] == "http":
            for key, value in scope.get("headers", []):
                if key == b"cookie":
                    for part in value.decode("latin-1").split(";"):
                        name, _, chosen = part.strip().partition("=")
                        if name == i18n.LOCALE_COOKIE and chosen in i18n.LOCALES:
                            locale = chosen
        i18n.set_locale(locale)
        await self.app(scope, receive, send)


class Portal(Starlette):
    """Starlette with the security headers outside everything, its 500 handler included.

    Starlette puts ServerErrorMiddleware outside all user middleware, so a header
    middleware in the list never sees a 500; wrapping the built stack fixes that.
    """

    def __init__(
        self, *args: Any, https: bool = False, metrics: PortalMetrics, **kwargs: Any
    ) -> None:
        self.https = https
        self.metrics = metrics
        super().__init__(*args, **kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        secured = SecurityHeadersMiddleware(super().build_middleware_stack(), https=self.https)
        return RequestIdMiddleware(MetricsMiddleware(secured, self.metrics, self.routes))


def create_app(settings: Settings | None = None, database: Database | None = None) -> Starlette:
    settings = settings or load_settings()
    settings.shops  # noqa: B018 (read now: a broken shops file stops the start, not a push)
    settings.verify_files  # noqa: B018 (a bad check-file name stops the start too)
    settings.install_keyring()  # https without data keys stops the start
    owns_database = database is None
    database = database or Database(settings.database_url)
    integrations = build_integrations(settings, database)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        embedded = None
        if settings.embedded_worker:
            name = settings.worker_name or "embedded"
            embedded = EmbeddedWorker(build_worker(database, settings, integrations, name))
            embedded.start()
        app.state.embedded_worker = embedded  # `portal serve` stops it claiming at a signal
        app.state.funnel.start()
        # Read the rules in force now, so no request pays for the first read; after that
        # one small query per PORTAL_RULES_REFRESH_SECONDS, on whichever request is first.
        await anyio.to_thread.run_sync(app.state.rules.current, database)
        try:
            yield
        finally:
            app.state.funnel.stop()
            if embedded:
                embedded.stop()
            integrations.close()
            if owns_database:
                database.dispose()

    app = Portal(
        https=settings.cookie_secure,
        metrics=PortalMetrics(),
        routes=[
            *health.routes,
            *metrics.routes,
            *wechat_files.routes_for(settings.verify_files),
            *customer_access.routes,
            *tracking.routes,
            *cancel.routes,
            *history.routes,
            *address.routes,
            *returns.routes,
            *invoices.routes,
            *exchanges.routes,
            *in_transit.routes,
            *support.routes,
            *wechat_oauth.routes,
            Mount("/api/miniprogram", routes=miniprogram.routes),
            Mount(
                "/admin",
                routes=[
                    *admin.routes,
                    *admin_requests.routes,
                    *admin_returns.routes,
                    *admin_operations.routes,
                    *admin_finance.routes,
                    *admin_cancellations.routes,
                    *admin_invoices.routes,
                    *admin_in_transit.routes,
                    *admin_jobs.routes,
                    *admin_integrations.routes,
                    *admin_staff.routes,
                    *admin_second_factor.routes,
                    *admin_own_password.routes,
                    *admin_waybill_import.routes,
                    *admin_confirmations.routes,
                    *admin_support.routes,
                    *admin_exchanges.routes,
                    *admin_waybills.routes,
                    *admin_order_cancel.routes,
                    *admin_messages.routes,
                    *admin_intercepts.routes,
                    *admin_goodwill.routes,
                    *admin_waybill_corrections.routes,
                    *admin_customers.routes,
                    *admin_redirect.routes,
                    *admin_rules.routes,
                ],
            ),
            Mount("/warehouse", routes=[*warehouse.routes, *warehouse_packing.routes]),
            Mount("/webhooks", routes=[*webhooks.routes, *wechat_push.routes]),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(GZipMiddleware, minimum_size=500),
            Middleware(LocaleMiddleware, default=settings.default_locale),
            Middleware(CSRFMiddleware, secure=settings.cookie_secure),
        ],
        exception_handlers={
            **EXCEPTION_HANDLERS,
            StaffLoginRequired: login_redirect,
            SecondFactorEnrolmentRequired: enrolment_redirect,
            PasswordChangeRequired: password_change_redirect,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.rules = RulesInForce(settings.rules, settings.rules_refresh_seconds)
    # SQLite has one writer at a time: queue writes on one thread instead of its lock.
    app.state.writer = calls.Writer(1 if database.is_sqlite else settings.threads)
    app.state.database = database
    app.state.funnel = FunnelCounter(database)
    app.state.outage = OutageLog()
    app.state.templates = build_templates(app)
    app.state.metrics = app.metrics
    app.state.database_figures = DatabaseCollector(database)
    app.state.metrics.registry.register(app.state.database_figures)
    app.state.page_cache = PageCache(settings.page_cache_size, app.metrics.page_cache_lookup)
    # Outside the static root, never served as files: photos go out only through routes
    # that check who is asking.
    app.state.photo_store = PhotoStore(settings.photo_dir, public_roots=[STATIC_DIR])
    app.state.sessions = Sessions(settings)
    app.state.tracking_clients = integrations.tracking
    app.state.refund_gateways = integrations.refunds
    app.state.waybill_bookers = integrations.waybills
    app.state.wechat_oauth = WeChatOAuth.build(settings, integrations.wechat_oauth)
    app.state.miniprogram = MiniProgram.build(
        settings, database, integrations.http, integrations.breaker_states
    )
    app.state.wechat_jsapi = integrations.wechat_jsapi
    app.state.packing = packing_config(settings)
    app.state.link_signer = LinkSigner(
        list(settings.secret_keys), timedelta(days=settings.link_max_age_days)
    )
    return app
