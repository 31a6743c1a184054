"""What /metrics reports from the database: job backlog, dead jobs, breakers, the outbox.

Read at scrape time, so the figures are true across every web and worker process; one
grouped query per table, each served by an index on (status, ...), whatever the history.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.breaker_states import BreakerStateRow
from backend.clock import utcnow
from backend.db import Database
from backend.integration_health import ProviderHealth, summarize_breakers
from backend.jobs.models import Job, JobStatus
from backend.notifications.models import Notification, NotificationStatus


@dataclass(frozen=True)
class JobKindFigures:
    kind: str
    due: int = 0  # pending and due now: the backlog the workers have not claimed yet
    scheduled: int = 0  # pending for later: retries backing off, periodic jobs re-armed
    running: int = 0
    dead: int = 0
    oldest_due_seconds: float = 0.0  # how long the oldest due job has waited past run_at


@dataclass(frozen=True)
class OutboxFigures:
    channel: str
    pending: int
    oldest_seconds: float  # since the oldest pending message was queued


@dataclass(frozen=True)
class MonitoredFigures:
    jobs: list[JobKindFigures]
    breakers: list[ProviderHealth]
    outbox: list[OutboxFigures]


def _job_figures(session: Session, now: datetime) -> list[JobKindFigures]:
    due_at = case((Job.run_at <= now, Job.run_at))
    rows = session.execute(
        select(Job.kind, Job.status, func.count(), func.count(due_at), func.min(due_at))
        .where(Job.status.in_([JobStatus.PENDING, JobStatus.RUNNING, JobStatus.DEAD]))
        .group_by(Job.kind, Job.status)
    ).all()
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    oldest: dict[str, float] = {}
    for kind, status, count, due, earliest_due in rows:
        if status == JobStatus.PENDING:
            counts[kind] |= {"due": int(due), "scheduled": int(count) - int(due)}
            if earliest_due is not None:
                oldest[kind] = max((now - earliest_due).total_seconds(), 0.0)
        else:
            counts[kind][str(status)] = int(count)
    return [
        JobKindFigures(kind, **columns, oldest_due_seconds=oldest.get(kind, 0.0))
        for kind, columns in sorted(counts.items())
    ]


def _outbox_figures(session: Session, now: datetime) -> list[OutboxFigures]:
    rows = session.execute(
        select(Notification.channel, func.count(), func.min(Notification.created_at))
        .where(Notification.status == NotificationStatus.PENDING)
        .group_by(Notification.channel)
    ).all()
    return [
        OutboxFigures(str(channel), int(count), max((now - first).total_seconds(), 0.0))
        for channel, count, first in sorted(rows)
    ]


def read_figures(database: Database, now: datetime | None = None) -> MonitoredFigures:
    now = now or utcnow()
    with database.read() as session:
        jobs = _job_figures(session, now)
        breakers = summarize_breakers(session.scalars(select(BreakerStateRow)).all(), now)
        outbox = _outbox_figures(session, now)
    return MonitoredFigures(jobs, breakers, outbox)
