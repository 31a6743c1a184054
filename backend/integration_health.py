"""Integration health for staff: breakers over every process, last pushes, dead jobs.

One read, frozen dataclasses out. What it reads is written elsewhere: breaker transitions
by each process (backend/breaker_states.py), pushes by the webhooks (tracking events and
channel events), dead jobs by the worker, refused ship confirmations by their job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.breaker import BreakerState
from backend.breaker_states import BreakerStateRow
from backend.clock import utcnow
from backend.db import Database
from backend.fulfilment.models import ConfirmationStatus, ShipConfirmationRecord
from backend.jobs.models import Job, JobStatus
from backend.logistics.models import TrackingEvent
from backend.operations import CHANNEL_SILENT_AFTER, working_time_between
from backend.orders.models import ChannelEvent

# A process that has told nothing for this long may be gone: its row no longer counts.
# A breaker that stays open re-opens after each failed trial (every cool-down, 30 s),
# so a live outage keeps its rows fresh.
FRESH_FOR = timedelta(minutes=10)
WORSE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
# Kuaidi100's "stopped watching" notices are its pushes too (tracking_jobs keeps them apart).
MONITOR_SUFFIX = "-monitor"


@dataclass(frozen=True)
class ProviderHealth:
    provider: str  # the breaker's name: "sf", "kuaidi100-waybill", "wechat:wx1..."
    state: BreakerState  # the worst over the processes seen lately (or the last known)
    since: datetime  # when that state began, in the process where it began first
    failures: int
    processes: int  # how many processes told something within FRESH_FOR
    is_stale: bool  # none did: `state` is the last known, from a process maybe gone
    changed_at: datetime

    @property
    def is_troubled(self) -> bool:
        return not self.is_stale and self.state != BreakerState.CLOSED


@dataclass(frozen=True)
class LastPush:
    source: str  # a carrier feed ("kuaidi100", "sf") or a sales channel ("taobao")
    received_at: datetime
    quiet_for: timedelta
    is_quiet: bool  # quiet longer than troubles' quiet-channel threshold (working time)


@dataclass(frozen=True)
class DeadKind:
    kind: str
    count: int
    oldest: datetime


@dataclass(frozen=True)
class IntegrationHealth:
    checked_at: datetime
    breakers: list[ProviderHealth]  # troubled first, then by name
    carriers: list[LastPush]
    channels: list[LastPush]
    dead_jobs: list[DeadKind]  # most first
    refused_confirmations: int

    @property
    def dead_total(self) -> int:
        return sum(kind.count for kind in self.dead_jobs)

    @property
    def open_breakers(self) -> list[ProviderHealth]:
        return [provider for provider in self.breakers if provider.is_troubled]


def summarize_breakers(
    rows: Iterable[BreakerStateRow], now: datetime, fresh_for: timedelta = FRESH_FOR
) -> list[ProviderHealth]:
    by_provider: dict[str, list[BreakerStateRow]] = defaultdict(list)
    for row in rows:
        by_provider[row.provider].append(row)
    found = [_provider(name, seen, now - fresh_for) for name, seen in by_provider.items()]
    return sorted(found, key=lambda p: (not p.is_troubled, -WORSE[p.state], p.provider))


def _provider(name: str, rows: Sequence[BreakerStateRow], fresh_after: datetime) -> ProviderHealth:
    fresh = [row for row in rows if row.changed_at >= fresh_after]
    if not fresh:
        last = max(rows, key=lambda row: row.changed_at)
        return ProviderHealth(name, last.state, last.since, last.failures, 0, True, last.changed_at)
    worst = max(WORSE[row.state] for row in fresh)
    in_worst = [row for row in fresh if WORSE[row.state] == worst]
    first = min(in_worst, key=lambda row: row.since)
    return ProviderHealth(
        name,
        first.state,
        first.since,
        max(row.failures for row in in_worst),
        len(fresh),
        False,
        max(row.changed_at for row in fresh),
    )


def _last_pushes(pairs: Iterable[tuple[str, datetime]], now: datetime) -> list[LastPush]:
    latest: dict[str, datetime] = {}
    for source, at in pairs:
        source = str(source).removesuffix(MONITOR_SUFFIX)
        if source not in latest or at > latest[source]:
            latest[source] = at
    pushes = [
        LastPush(source, at, now - at, working_time_between(at, now) > CHANNEL_SILENT_AFTER)
        for source, at in latest.items()
    ]
    return sorted(pushes, key=lambda push: (not push.is_quiet, push.source))


def _dead_kinds(session: Session) -> list[DeadKind]:
    died = func.min(func.coalesce(Job.finished_at, Job.run_at))
    rows = session.execute(
        select(Job.kind, func.count(), died).where(Job.status == JobStatus.DEAD).group_by(Job.kind)
    ).all()
    kinds = [DeadKind(kind, int(count), oldest) for kind, count, oldest in rows]
    return sorted(kinds, key=lambda kind: (-kind.count, kind.kind))


def list_breakers(database: Database, now: datetime | None = None) -> list[ProviderHealth]:
    """The breakers alone (the group alerts need nothing else)."""
    with database.read() as session:
        rows = session.scalars(select(BreakerStateRow)).all()
    return summarize_breakers(rows, now or utcnow())


def get_integration_health(database: Database, now: datetime | None = None) -> IntegrationHealth:
    now = now or utcnow()
    with database.read() as session:
        breaker_rows = session.scalars(select(BreakerStateRow)).all()
        carriers = session.execute(
            select(TrackingEvent.source, func.max(TrackingEvent.received_at)).group_by(
                TrackingEvent.source
            )
        ).all()
        channels = session.execute(
            select(ChannelEvent.channel, func.max(ChannelEvent.received_at)).group_by(
                ChannelEvent.channel
            )
        ).all()
        dead = _dead_kinds(session)
        refused = session.scalar(
            select(func.count()).where(ShipConfirmationRecord.status == ConfirmationStatus.REFUSED)
        )
    return IntegrationHealth(
        checked_at=now,
        breakers=summarize_breakers(breaker_rows, now),
        carriers=_last_pushes(carriers, now),
        channels=_last_pushes(channels, now),
        dead_jobs=dead,
        refused_confirmations=int(refused or 0),
    )
