"""The database's figures as Prometheus gauges, read at every scrape (backend/monitoring.py).

A collector rather than gauges set by each process: the jobs, breakers and outbox are
shared by every process, so whichever process is scraped tells the same truth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from backend.breaker import BreakerState
from backend.db import Database
from backend.monitoring import MonitoredFigures, read_figures

log = logging.getLogger(__name__)


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


def _job_families(figures: MonitoredFigures) -> Iterator[GaugeMetricFamily]:
    due = _gauge("portal_jobs_due", "Pending jobs due now, not yet claimed (backlog)", ["kind"])
    oldest = _gauge(
        "portal_jobs_oldest_due_age_seconds", "How long the oldest due job has waited", ["kind"]
    )
    scheduled = _gauge(
        "portal_jobs_scheduled", "Pending jobs due later (retries, periodic jobs)", ["kind"]
    )
    running = _gauge("portal_jobs_running", "Jobs a worker holds now", ["kind"])
    dead = _gauge("portal_jobs_dead", "Jobs that gave up, waiting for staff", ["kind"])
    for kind in figures.jobs:
        due.add_metric([kind.kind], kind.due)
        oldest.add_metric([kind.kind], kind.oldest_due_seconds)
        scheduled.add_metric([kind.kind], kind.scheduled)
        running.add_metric([kind.kind], kind.running)
        dead.add_metric([kind.kind], kind.dead)
    yield from (due, oldest, scheduled, running, dead)


def _breaker_families(figures: MonitoredFigures) -> Iterator[GaugeMetricFamily]:
    state = _gauge(
        "portal_breaker_state",
        "1 for each provider's breaker state, the worst over the processes seen lately",
        ["provider", "state"],
    )
    stale = _gauge(
        "portal_breaker_stale",
        "1 when no process told this breaker's state lately: it is the last known",
        ["provider"],
    )
    for provider in figures.breakers:
        for each in BreakerState:
            state.add_metric([provider.provider, str(each)], int(provider.state == each))
        stale.add_metric([provider.provider], int(provider.is_stale))
    yield from (state, stale)


def _outbox_families(figures: MonitoredFigures) -> Iterator[GaugeMetricFamily]:
    pending = _gauge("portal_outbox_pending", "Customer messages not sent yet", ["channel"])
    oldest = _gauge(
        "portal_outbox_oldest_pending_age_seconds",
        "Since the oldest unsent message was queued",
        ["channel"],
    )
    for channel in figures.outbox:
        pending.add_metric([channel.channel], channel.pending)
        oldest.add_metric([channel.channel], channel.oldest_seconds)
    yield from (pending, oldest)


class DatabaseCollector(Collector):
    def __init__(self, database: Database) -> None:
        self.database = database

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # read only at a scrape, never when the collector is registered

    def collect(self) -> Iterator[GaugeMetricFamily]:
        readable = _gauge("portal_database_figures_up", "1 if this scrape read the database", [])
        try:
            figures = read_figures(self.database)
        except SQLAlchemyError as error:
            log.warning("metrics: database figures unavailable: %s", type(error).__name__)
            readable.add_metric([], 0)
            yield readable
            return
        readable.add_metric([], 1)
        yield readable
        yield from _job_families(figures)
        yield from _breaker_families(figures)
        yield from _outbox_families(figures)
