"""Templates, their filters, and the one place that decides page or partial."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from backend.clock import SHANGHAI, utcnow
from portal import i18n
from portal.charts import figure_rates, funnel_chart, label_channel, late_map, profit_heat
from portal.critical_css import CRITICAL_CSS
from portal.labels import carrier_label, cause_label, label
from portal.page_cache import CSRF_MARKER, with_csrf

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


def month_day(value: date) -> str:
    return i18n.gettext("%(month)s/%(day)s") % {"month": value.month, "day": value.day}


def updated_ago(value: datetime) -> str:
    """ "Updated just now / 5 minutes / 3 hours / 2 days ago": "0 minutes ago" reads as broken."""
    minutes = max(int((utcnow() - value).total_seconds() // 60), 0)
    if minutes < 1:
        return i18n.gettext("Updated just now")
    if minutes < 60:
        text = i18n.ngettext("Updated %(num)s minute ago", "Updated %(num)s minutes ago", minutes)
        return text % {"num": minutes}
    hours = minutes // 60
    if hours < 24:
        return i18n.ngettext("Updated %(num)s hour ago", "Updated %(num)s hours ago", hours) % {
            "num": hours
        }
    days = hours // 24
    return i18n.ngettext("Updated %(num)s day ago", "Updated %(num)s days ago", days) % {
        "num": days
    }


def duration(value: timedelta) -> str:
    """A staff-facing age: 2天3小时, 5小时20分, 12分钟 (or the English equivalent)."""
    minutes = max(int(value.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return i18n.gettext("%(days)sd %(hours)sh") % {"days": days, "hours": hours}
    if hours:
        return i18n.gettext("%(hours)sh %(minutes)smin") % {"hours": hours, "minutes": minutes}
    return i18n.gettext("%(minutes)smin") % {"minutes": minutes}


def details(value: object) -> str:
    """An audit event's before/after as staff read it: {"reason": "客户来电"} -> reason: 客户来电.

    JSON with non-ASCII escaped (\\u5ba2...) is unreadable to a Chinese team; nested values
    keep their JSON shape, with the characters as they are.
    """
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    parts = []
    for key, item in value.items():
        shown = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


def build_templates(app: Starlette) -> Jinja2Templates:
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
    environment.filters.update(
        fen=fen,
        local_time=local_time,
        updated_ago=updated_ago,
        duration=duration,
        month_day=month_day,
        details=details,
    )
    environment.globals.update(
        label=label,
        cause_label=cause_label,
        carrier_label=carrier_label,
        rate_chart=figure_rates,
        funnel_chart=funnel_chart,
        late_map=late_map,
        profit_heat=profit_heat,
        label_channel=label_channel,
        current_locale=i18n.current_locale,
        url_path=_path_finder(app),
        # Exactly the text whose hash the CSP names; the template must not escape it.
        critical_css=Markup(CRITICAL_CSS),  # noqa: S704 (our own portal.css, read at start)
    )
    return Jinja2Templates(env=environment)


def _path_finder(app: Starlette) -> Callable[..., str]:
    """url_path_for walks every route each call; routes never change, so answers are kept."""

    @lru_cache(maxsize=4096)
    def find(name: str, **params: Any) -> str:
        return str(app.url_path_for(name, **params))

    return find


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


def render_page(request: Request, template: str, context: dict[str, Any]) -> bytes:
    """A template rendered to bytes, with the CSRF marker in place of this visitor's token."""
    templates: Jinja2Templates = request.app.state.templates
    context = {**context, "request": request, "csrf_token": CSRF_MARKER}
    return templates.get_template(template).render(context).encode()


def page_response(request: Request, page: bytes, status_code: int = 200) -> Response:
    token = request.scope.get("state", {}).get("csrf_token", "")
    return Response(
        with_csrf(page, token),
        status_code=status_code,
        media_type="text/html",
        headers={"Vary": "HX-Request, Cookie", "Cache-Control": "no-store"},
    )


def redirect(request: Request, name: str, **params: object) -> RedirectResponse:
    """303 See Other to a named route, as a path: correct behind any proxy or host name."""
    return RedirectResponse(request.url_for(name, **params).path, status_code=303)
