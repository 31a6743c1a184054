"""Templates, their filters, and the one place that decides page or partial."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from backend.db import utcnow
from portal import i18n
from portal.labels import label

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEMPLATES_DIR = Path(__file__).parent / "templates"


def fen(amount: int | None) -> str:
    """Integer fen as yuan: 12350 -> ¥123.50."""
    amount = amount or 0
    sign = "-" if amount < 0 else ""
    yuan, cents = divmod(abs(amount), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def local_time(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime(pattern)


def minutes_ago(value: datetime | None) -> int | None:
    if value is None:
        return None
    return max(int((utcnow() - value).total_seconds() // 60), 0)


def build_templates() -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    environment.filters.update(fen=fen, local_time=local_time, minutes_ago=minutes_ago)
    environment.globals.update(label=label, current_locale=i18n.current_locale)
    return Jinja2Templates(env=environment)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    partial: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The page, or only its partial when htmx asks; caches are told the answer varies."""
    templates: Jinja2Templates = request.app.state.templates
    name = partial if partial and is_htmx(request) else template
    context = dict(context or {})
    context.setdefault("csrf_token", request.scope.get("state", {}).get("csrf_token", ""))
    response = templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=headers
    )
    response.headers["Vary"] = "HX-Request, Cookie"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def redirect(request: Request, name: str, **params: object) -> RedirectResponse:
    """303 See Other to a named route, as a path: correct behind any proxy or host name."""
    return RedirectResponse(request.url_for(name, **params).path, status_code=303)
