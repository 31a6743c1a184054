"""The merchant's operations view: held and stuck orders routed by team, quiet channels, figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select

from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.logistics.alerts import list_alerts
from backend.orders.holds import HOLD_TEAM, Team
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import ChannelEvent, HoldReason, Order
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.models import ReturnRequest
from backend.staff.models import Role, StaffUser

WORKING_HOURS = (9, 18)  # Shanghai; SLA clocks and channel silence count only inside them
CHANNEL_SILENT_AFTER = timedelta(minutes=10)
SHIP_PROMISE = timedelta(hours=24)


# How long an order may stay in a state (working time) before it turns red, and who acts.
SLA: dict[OrderStatus, tuple[timedelta, Team]] = {
    OrderStatus.PENDING_PAYMENT: (timedelta(minutes=30), Team.SUPPORT),
    OrderStatus.PAID: (timedelta(minutes=15), Team.WAREHOUSE),
    OrderStatus.PICKING: (timedelta(hours=2), Team.WAREHOUSE),
    OrderStatus.PACKED: (timedelta(hours=4), Team.WAREHOUSE),
    # The rest of the order waits in another warehouse: a day at most, like the ship promise.
    OrderStatus.PARTIALLY_SHIPPED: (timedelta(hours=24), Team.WAREHOUSE),
    OrderStatus.AFTER_SALE: (timedelta(hours=48), Team.SUPPORT),
}


@dataclass(frozen=True)
class OperationsRules:
    """How long an order may wait in each state, in working minutes: SLA's limits by
    default, tuned on the rules page (backend/rulebook). The team that acts stays SLA's."""

    sla_minutes: Mapping[str, int] = field(
        default_factory=lambda: {
            str(status): int(limit.total_seconds() // 60) for status, (limit, _) in SLA.items()
        }
    )

    # Shanghai hours, start and end: SLA clocks and channel silence count only inside them.
    working_hours: tuple[int, int] = WORKING_HOURS

    def limit(self, status: OrderStatus) -> timedelta:
        minutes = self.sla_minutes.get(str(status))
        return timedelta(minutes=minutes) if minutes else SLA[status][0]


# A held order waits for a person (待审核): past this much working time it is late.
HOLD_SLA = timedelta(hours=4)

# Who works each team's queue. When nobody of a team is active (all left, or all disabled),
# a late item goes to the first substitute with someone active: the supervisor, else the
# admin, so an order never sits unseen for a day as in the seed articles' story.
TEAM_ROLES: dict[Team, frozenset[Role]] = {
    Team.FINANCE: frozenset({Role.FINANCE}),
    Team.SUPPORT: frozenset({Role.SUPPORT}),
    Team.WAREHOUSE: frozenset({Role.WAREHOUSE}),
    Team.OPERATIONS: frozenset({Role.SUPERVISOR}),
}
SUBSTITUTES: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)


def substitute_for(team: Team, active_roles: frozenset[Role]) -> Role | None:
    """None while the team has someone active; else who takes its late items."""
    if TEAM_ROLES[team] & active_roles:
        return None
    for role in SUBSTITUTES:
        if role in active_roles and role not in TEAM_ROLES[team]:
            return role
    return Role.ADMIN  # nobody active at all: still the admin's, never nobody's


def working_time_between(
    start: datetime, end: datetime, hours: tuple[int, int] = WORKING_HOURS
) -> timedelta:
    """Working hours (09:00–18:00 Shanghai by default, every day) between two instants."""
    total, day = timedelta(0), start.astimezone(SHANGHAI).date()
    last = end.astimezone(SHANGHAI).date()
    while day <= last:
        opens = datetime(day.year, day.month, day.day, hours[0], tzinfo=SHANGHAI)
        closes = opens + timedelta(hours=hours[1] - hours[0])
        overlap = min(closes, end) - max(opens, start)
        total += max(overlap, timedelta(0))
        day += timedelta(days=1)
    return total


@dataclass(frozen=True)
class QueueItem:
    order_id: int
    public_no: str
    channel: str
    team: Team
    cause: str  # a HoldReason, or "stuck:<status>"
    since: datetime
    overdue_by: timedelta | None = None
    # Set when the item is late and its team has nobody active: who it is routed to instead.
    substitute: Role | None = None


def list_queue(
    database: Database, now: datetime | None = None, rules: OperationsRules | None = None
) -> list[QueueItem]:
    """Held orders and orders past their SLA, each routed to the team that can act.

    A late item of a team with nobody active is routed to the team's substitute.
    """
    now, rules = now or utcnow(), rules or OperationsRules()
    items: list[QueueItem] = []
    with database.read() as session:
        active_roles = frozenset(
            Role(role)
            for role in session.scalars(
                select(StaffUser.role).where(StaffUser.active.is_(True)).distinct()
            )
        )
        held = session.execute(
            select(
                Order.id, Order.public_no, Order.channel, Order.hold_reason, Order.created_at
            ).where(Order.hold_reason.is_not(None), Order.status != OrderStatus.CANCELLED)
        ).all()
        for order_id, public_no, channel, reason, since in held:
            items.append(
                QueueItem(
                    order_id,
                    public_no,
                    channel,
                    HOLD_TEAM[HoldReason(str(reason))],
                    str(reason),
                    since,
                )
            )
        waiting = session.execute(
            select(
                Order.id, Order.public_no, Order.channel, Order.status, Order.status_changed_at
            ).where(Order.status.in_([str(s) for s in SLA]), Order.hold_reason.is_(None))
        ).all()
    for order_id, public_no, channel, status, since in waiting:
        team = SLA[OrderStatus(status)][1]
        late = working_time_between(since, now, rules.working_hours) - rules.limit(
            OrderStatus(status)
        )
        if late > timedelta(0):
            items.append(
                QueueItem(order_id, public_no, channel, team, f"stuck:{status}", since, late)
            )
    return sorted(
        (_routed(item, active_roles, now, rules.working_hours) for item in items),
        key=lambda item: item.since,
    )


def _routed(
    item: QueueItem, active_roles: frozenset[Role], now: datetime, hours: tuple[int, int]
) -> QueueItem:
    late = item.overdue_by is not None or working_time_between(item.since, now, hours) > HOLD_SLA
    substitute = substitute_for(item.team, active_roles) if late else None
    return replace(item, substitute=substitute) if substitute else item


def quiet_channels(
    database: Database, now: datetime | None = None, rules: OperationsRules | None = None
) -> list[tuple[str, datetime]]:
    """Channels that have sent orders before but nothing for 10 working minutes."""
    now, hours = now or utcnow(), (rules or OperationsRules()).working_hours
    with database.read() as session:
        last = session.execute(
            select(ChannelEvent.channel, func.max(ChannelEvent.received_at)).group_by(
                ChannelEvent.channel
            )
        ).all()
    return [
        (channel, at)
        for channel, at in last
        if working_time_between(at, now, hours) > CHANNEL_SILENT_AFTER
    ]


@dataclass(frozen=True)
class Dashboard:
    orders_today: dict[str, int]
    processing_median: timedelta | None
    processing_p90: timedelta | None
    on_time_rate: float | None
    refunds_in_review: int
    oldest_review: timedelta | None
    exceptions_open: int
    held: int


def _percentile(values: list[timedelta], fraction: float) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(round(fraction * (len(ordered) - 1)), len(ordered) - 1)]


def get_dashboard(database: Database, now: datetime | None = None) -> Dashboard:
    now = now or utcnow()
    local_midnight = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    with database.read() as session:
        today = dict(
            session.execute(
                select(Order.channel, func.count())
                .where(Order.placed_at >= local_midnight)
                .group_by(Order.channel)
            ).all()
        )
        shipped = session.execute(
            select(Order.paid_at, Order.shipped_at).where(
                Order.shipped_at.is_not(None),
                Order.paid_at.is_not(None),
                Order.shipped_at >= now - timedelta(days=30),
            )
        ).all()
        reviews = session.scalars(
            select(ReturnRequest.created_at).where(ReturnRequest.status == ReturnStatus.IN_REVIEW)
        ).all()
        held = (
            session.scalar(
                select(func.count()).select_from(Order).where(Order.hold_reason.is_not(None))
            )
            or 0
        )
    durations = [shipped_at - paid_at for paid_at, shipped_at in shipped if paid_at and shipped_at]
    on_time = sum(1 for d in durations if d <= SHIP_PROMISE)
    return Dashboard(
        orders_today={str(k): int(v) for k, v in today.items()},
        processing_median=_percentile(durations, 0.5),
        processing_p90=_percentile(durations, 0.9),
        on_time_rate=on_time / len(durations) if durations else None,
        refunds_in_review=len(reviews),
        oldest_review=now - min(reviews) if reviews else None,
        exceptions_open=len(list_alerts(database, now)),
        held=int(held),
    )
