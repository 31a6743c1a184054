"""Dead jobs for staff: what gave up, about which order, and putting it back in the queue.

It sits outside backend/jobs, which no domain is allowed into: a job's payload names its
subject by id (`refund_id`, `shipment_id` ...), and staff need the order behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.jobs.models import Job, JobStatus
from backend.logistics.models import Shipment
from backend.notifications.models import Notification
from backend.orders.models import AddressChange, Order
from backend.refunds.models import Refund
from backend.staff.permissions import Permission, check_permission

# Payload key -> (that table's id, its order id). `order_id` names the order itself.
SUBJECTS: dict[str, tuple[InstrumentedAttribute[int], InstrumentedAttribute[int]]] = {
    "refund_id": (Refund.id, Refund.order_id),
    "shipment_id": (Shipment.id, Shipment.order_id),
    "notification_id": (Notification.id, Notification.order_id),
    "change_id": (AddressChange.id, AddressChange.order_id),
}
PAGE = 200


class JobNotDead(Exception):
    """No such job, or it is not dead (retried meanwhile)."""


@dataclass(frozen=True)
class DeadJob:
    id: int
    kind: str
    attempts: int
    last_error: str
    died_at: datetime
    order_id: int | None
    order_no: str | None


@dataclass(frozen=True)
class DeadJobs:
    jobs: list[DeadJob]  # the latest PAGE, newest first
    by_kind: list[tuple[str, int]]  # every dead job, counted by kind, most first
    total: int


def _check(session: Session, actor: Actor) -> None:
    # The CLI and the worker are system actors; staff need the permission in their role.
    check_permission(actor, Permission.MANAGE_JOBS, also={ActorKind.SYSTEM})


def _subject_id(payload: dict[str, Any], key: str) -> int | None:
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _orders_of(session: Session, jobs: Sequence[Job]) -> dict[int, tuple[int, str]]:
    """job id -> (order id, public number), for the jobs whose payload names an order."""
    order_of_job: dict[int, int] = {}
    for key, (subject_id, subject_order) in SUBJECTS.items():
        wanted = {job.id: _subject_id(job.payload, key) for job in jobs}
        ids = {value for value in wanted.values() if value is not None}
        if not ids:
            continue
        found = session.execute(select(subject_id, subject_order).where(subject_id.in_(ids)))
        orders = {sid: oid for sid, oid in found}
        order_of_job |= {jid: orders[sid] for jid, sid in wanted.items() if sid in orders}
    for job in jobs:
        order_id = _subject_id(job.payload, "order_id")
        if order_id is not None:
            order_of_job[job.id] = order_id
    named = select(Order.id, Order.public_no).where(Order.id.in_(set(order_of_job.values())))
    numbers = {oid: public_no for oid, public_no in session.execute(named)}
    return {jid: (oid, numbers[oid]) for jid, oid in order_of_job.items() if oid in numbers}


def list_dead_jobs(database: Database, limit: int = PAGE) -> DeadJobs:
    dead = Job.status == JobStatus.DEAD
    with database.read() as session:
        counts = session.execute(
            select(Job.kind, func.count()).where(dead).group_by(Job.kind).order_by(Job.kind)
        ).all()
        rows = session.scalars(
            select(Job)
            .where(dead)
            .order_by(Job.finished_at.desc().nulls_last(), Job.id.desc())
            .limit(limit)
        ).all()
        orders = _orders_of(session, rows)
    jobs = [
        DeadJob(
            job.id,
            job.kind,
            job.attempts,
            job.last_error or "",
            job.finished_at or job.run_at,  # dead before finished_at was kept for them
            *orders.get(job.id, (None, None)),
        )
        for job in rows
    ]
    by_kind = sorted(((kind, int(n)) for kind, n in counts), key=lambda pair: -pair[1])
    return DeadJobs(jobs, by_kind, sum(n for _, n in by_kind))


def _retry(session: Session, jobs: Sequence[Job], actor: Actor) -> int:
    orders, now = _orders_of(session, jobs), utcnow()
    for job in jobs:
        error = (job.last_error or "")[:500]
        before = {"status": str(job.status), "attempts": job.attempts, "error": error}
        job.status, job.attempts, job.run_at, job.finished_at = JobStatus.PENDING, 0, now, None
        audit.record(
            session,
            actor,
            "job.retried",
            subject="job",
            subject_id=job.id,
            order_id=orders.get(job.id, (None,))[0],
            before=before,
            after={"status": str(JobStatus.PENDING), "kind": job.kind},
        )
    return len(jobs)


def retry_dead_job(database: Database, job_id: int, actor: Actor) -> None:
    """Back to PENDING with its attempts reset, due now; audited."""
    with database.write() as session:
        _check(session, actor)
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.status != JobStatus.DEAD:
            raise JobNotDead(job_id)
        _retry(session, [job], actor)


def retry_dead_kind(database: Database, kind: str, actor: Actor) -> int:
    """Every dead job of one kind back to PENDING (each audited). Returns how many."""
    with database.write() as session:
        _check(session, actor)
        jobs = session.scalars(
            select(Job).where(Job.status == JobStatus.DEAD, Job.kind == kind).with_for_update()
        ).all()
        return _retry(session, jobs, actor)
