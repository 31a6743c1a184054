"""The merchant's operations view: held and stuck orders routed by team, quiet channels, figures."""

from __future__ import annotations

from dataclasses import dataclass
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


def working_time_between(start: datetime, end: datetime) -> timedelta:
    """Working hours (09:00–18:00 Shanghai, every day) between two instants."""
    total, day = timedelta(0), start.astimezone(SHANGHAI).date()
    last = end.astimezone(SHANGHAI).date()
    while day <= last:
        opens = datetime(day.year, day.month, day.day, WORKING_HOURS[0], tzinfo=SHANGHAI)
        closes = opens.replace(hour=WORKING_HOURS[1])
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


def list_queue(database: Database, now: datetime | None = None) -> list[QueueItem]:
    """Held orders and orders past their SLA, each routed to the team that can act."""
    now = now or utcnow()
    items: list[QueueItem] = []
    with database.read() as session:
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
        limit, team = SLA[OrderStatus(status)]
        late = working_time_between(since, now) - limit
        if late > timedelta(0):
            items.append(
                QueueItem(order_id, public_no, channel, team, f"stuck:{status}", since, late)
            )
    return sorted(items, key=lambda item: item.since)


def quiet_channels(database: Database, now: datetime | None = None) -> list[tuple[str, datetime]]:
    """Channels that have sent orders before but nothing for 10 working minutes."""
    now = now or utcnow()
    with database.read() as session:
        last = session.execute(
            select(ChannelEvent.channel, func.max(ChannelEvent.received_at)).group_by(
                ChannelEvent.channel
            )
        ).all()
    return [
        (channel, at)
        for channel, at in last
        if working_time_between(at, now) > CHANNEL_SILENT_AFTER
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
