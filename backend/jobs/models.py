"""The job table: one row per piece of background work, from enqueued to done or dead."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.personal_data import EncryptedJSON


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"  # gave up after MAX_ATTEMPTS; shown to staff, never silently dropped


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "status", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    # Sealed: a queued channel delivery or message holds the buyer's phone and address.
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("jobs.payload"), default=dict)
    # Enqueuing the same key twice is a no-op: the first job stands.
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[JobStatus] = mapped_column(EnumText(JobStatus, 10), default=JobStatus.PENDING)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_by: Mapped[str | None] = mapped_column(String(80))
    locked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # The web request that enqueued it (X-Request-ID), told on the worker's log lines too.
    request_id: Mapped[str | None] = mapped_column(String(64))


class WorkerSlot(Base):
    """A worker's place, stable across its restarts (host:name), and the life that holds it.

    A restarted worker finds here the instance it was before: the jobs that instance still
    holds are its own, abandoned by its death, and are taken back at once instead of after
    the lease. The heartbeat tells a live twin (the same name started twice) from a dead one.
    """

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    instance: Mapped[str] = mapped_column(String(80))  # what the jobs it holds have in locked_by
    host: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None]  # set by a clean stop
