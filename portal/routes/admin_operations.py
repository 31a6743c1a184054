"""The operations page: the dashboard figures, the red queue by team, quiet channels."""

from __future__ import annotations

from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend import figures, funnel, operations, profit
from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.orders.holds import Team
from backend.staff.permissions import Permission
from backend.support.service import list_support_queue
from portal import calls
from portal.i18n import N_
from portal.rendering import render
from portal.rules_in_force import rules_of
from portal.staff_auth import require_staff


def _profit(database, days, rules, may_see_costs):
    if not (days and may_see_costs):
        return None
    profits = profit.order_profits(database, days, rules)
    channels = sorted({entry.channel for entry in profits})
    return (
        profit.profit_by_day_and_channel(profits),
        channels,
        profit.loss_making(profits, below_fen=rules.loss_below_fen),
    )


def _load(database, days, rules):
    now = utcnow()
    return (
        operations.get_dashboard(database, now),
        operations.list_queue(database, now, rules),
        operations.quiet_channels(database, now, rules),
        list_support_queue(database),
        figures.compare(database, days, now) if days else None,
        figures.late_deliveries_by_province(database, days, now) if days else [],
        figures.returns_by_sku(database, days, limit=10) if days else [],
        figures.bought_together(database, days, limit=5) if days else [],
        _funnels(database, days) if days else None,
        now,
    )


def _funnels(database: Database, days: figures.DayRange) -> tuple[funnel.Funnel, funnel.Funnel]:
    """The self-service funnel of the range and of the range before it."""
    before = days.previous()
    return (
        funnel.funnel_for(database, days.first, days.last, days.start, days.end),
        funnel.funnel_for(database, before.first, before.last, before.start, before.end),
    )


DEFAULT_DAYS = 7


def figure_range(request: Request) -> tuple[figures.DayRange | None, str | None]:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD, by default the last seven Shanghai days to today.

    A malformed or impossible range is shown as a message next to the form, never a 500.
    """
    today = utcnow().astimezone(SHANGHAI).date()
    raw_from = request.query_params.get("from", "").strip()
    raw_to = request.query_params.get("to", "").strip()
    try:
        last = date.fromisoformat(raw_to) if raw_to else today
        first = date.fromisoformat(raw_from) if raw_from else last - timedelta(DEFAULT_DAYS - 1)
    except ValueError:
        return None, RANGE_PROBLEMS["malformed"]
    if last < first:
        return None, RANGE_PROBLEMS["backwards"]
    try:
        return figures.DayRange(first, last), None
    except figures.RangeInvalid:
        return None, RANGE_PROBLEMS["too_long"]


RANGE_PROBLEMS = {
    "malformed": N_("Dates are written as YYYY-MM-DD."),
    "backwards": N_("The range ends before it starts."),
    "too_long": N_("Choose at most a year."),
}


async def overview(request: Request) -> Response:
    staff = await require_staff(request, Permission.VIEW_ORDERS)
    days, range_problem = figure_range(request)
    (
        dashboard,
        queue,
        quiet,
        waiting,
        comparison,
        lateness,
        sku_returns,
        pairs,
        funnels,
        now,
    ) = await calls.read(
        request, _load, request.app.state.database, days, rules_of(request).operations
    )
    teams = {
        team: [item for item in queue if item.team == team and item.substitute is None]
        for team in Team
    }
    substituted = {
        role: [item for item in queue if item.substitute == role] for role in operations.SUBSTITUTES
    }
    profits = await calls.read(
        request,
        _profit,
        request.app.state.database,
        days,
        rules_of(request).profit,
        staff.can(Permission.VIEW_COSTS),
    )
    return render(
        request,
        "admin/operations.html",
        {
            "staff": staff,
            "dashboard": dashboard,
            "teams": teams,
            "substituted": {role: items for role, items in substituted.items() if items},
            "quiet": quiet,
            "waiting": waiting,
            "now": now,
            "comparison": comparison,
            "lateness": lateness,
            "sku_returns": sku_returns,
            "pairs": pairs,
            "funnels": funnels,
            "profits": profits,
            "range_problem": range_problem,
            "days": days,
        },
    )


routes = [Route("/operations", overview, name="admin_operations")]
