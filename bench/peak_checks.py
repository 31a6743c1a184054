"""The peak's verdicts, read back from the database and the SMS emulator after the drain:
nothing acknowledged lost, nothing stored or sent twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from backend.audit.models import AuditEvent
from backend.db import Database
from backend.jobs.models import Job, JobStatus
from backend.logistics.models import Shipment, TrackingEvent
from backend.logistics.service import NOTIFY_ON
from backend.logistics.status import TrackingStatus
from backend.notifications.models import Notification, NotificationStatus
from backend.orders.models import ChannelEvent, IntakeOutcome, Order


@dataclass(frozen=True)
class Check:
    name: str
    lost: int
    duplicated: int
    detail: str

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicated == 0

    def describe(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{verdict} {self.name}: {self.lost} lost, {self.duplicated} duplicated; {self.detail}"
        )


def list_order_ids(database: Database) -> set[int]:
    """The orders there before the peak (demo and seeded ones), left out of its checks."""
    with database.read() as session:
        return set(session.scalars(select(Order.id)))


def check_orders(
    database: Database,
    channel: str,
    sent: Mapping[str, str],
    acked: Collection[str],
    before: Collection[int],
) -> Check:
    """Every acknowledged delivery (key -> channel order number) one order, one 'created' event."""
    new = Order.channel == channel, Order.id.not_in(before)
    with database.read() as session:
        numbers = Counter(session.scalars(select(Order.channel_order_no).where(*new)))
        events = select(ChannelEvent.order_id, ChannelEvent.outcome).where(
            ChannelEvent.channel == channel,
            or_(ChannelEvent.order_id.is_(None), ChannelEvent.order_id.not_in(before)),
        )
        rows = session.execute(events).all()
    created = Counter(order for order, outcome in rows if outcome == IntakeOutcome.CREATED)
    outcomes = Counter(str(outcome) for _order, outcome in rows)
    expected = {sent[key] for key in acked}
    lost = len(expected - numbers.keys())
    phantom = len(numbers.keys() - set(sent.values()))
    twice = sum(n - 1 for n in numbers.values()) + sum(n - 1 for n in created.values() if n > 1)
    unacked_created = len(numbers.keys() - expected)
    detail = (
        f"{len(acked):,} deliveries acknowledged, {sum(numbers.values()):,} orders, "
        f"{sum(created.values()):,} 'created' events; channel_events "
        + ", ".join(f"{n:,} {outcome}" for outcome, n in sorted(outcomes.items()))
    )
    if unacked_created:
        detail += f"; {unacked_created} created but never acknowledged (a channel resends those)"
    return Check(f"{channel} orders", lost, twice + phantom, detail)


def check_tracking(
    database: Database, shipments: Mapping[str, int], expected_events: Mapping[str, int]
) -> Check:
    """Each waybill holds exactly the distinct events of its longest acknowledged push."""
    with database.read() as session:
        stored = dict(
            session.execute(
                select(TrackingEvent.shipment_id, func.count())
                .where(TrackingEvent.shipment_id.in_(shipments.values()))
                .group_by(TrackingEvent.shipment_id)
            ).all()
        )
    lost = duplicated = 0
    for number, shipment_id in shipments.items():
        have, want = stored.get(shipment_id, 0), expected_events.get(number, 0)
        lost += max(want - have, 0)
        duplicated += max(have - want, 0)
    detail = (
        f"{sum(stored.values()):,} tracking events stored for {len(shipments)} waybills, "
        f"{sum(expected_events.values()):,} distinct events in the acknowledged pushes"
    )
    return Check("tracking events", lost, duplicated, detail)


def expected_notices(database: Database, shipment_ids: Collection[int]) -> Counter[tuple[int, str]]:
    """(shipment, event) pairs that must have one message: each shipment status it entered
    that customers hear of (the audit trail of the transitions), and its leaving."""
    subject_ids = [str(number) for number in shipment_ids]
    with database.read() as session:
        changes = session.execute(
            select(AuditEvent.subject_id, AuditEvent.after).where(
                AuditEvent.subject == "shipment",
                AuditEvent.action == "shipment.status_changed",
                AuditEvent.subject_id.in_(subject_ids),
            )
        ).all()
        shipped = session.scalars(
            select(Shipment.id).where(
                Shipment.id.in_(shipment_ids), Shipment.shipped_at.is_not(None)
            )
        ).all()
    wanted: set[tuple[int, str]] = {(shipment_id, "shipped") for shipment_id in shipped}
    for subject_id, after in changes:
        event = NOTIFY_ON.get(TrackingStatus((after or {}).get("status", "unknown")))
        if event is not None:
            wanted.add((int(subject_id), str(event)))
    return Counter(wanted)


def check_notices(database: Database, shipment_ids: Collection[int]) -> Check:
    """One outbox row per transition of the peak's parcels, none without a transition."""
    expected = expected_notices(database, shipment_ids)
    with database.read() as session:
        rows = session.execute(
            select(Notification.shipment_id, Notification.event).where(
                Notification.shipment_id.in_(shipment_ids)
            )
        ).all()
    queued = Counter((int(shipment_id or 0), str(event)) for shipment_id, event in rows)
    lost = sum((expected - queued).values())
    duplicated = sum((queued - expected).values())
    by_event = Counter(str(event) for _shipment, event in rows)
    detail = f"{sum(expected.values()):,} transitions, {len(rows):,} outbox rows (" + ", ".join(
        f"{n:,} {event}" for event, n in sorted(by_event.items())
    )
    return Check("customer messages queued", lost, duplicated, detail + ")")


def check_sends(database: Database, out_ids: Counter[str]) -> Check:
    """Every outbox row sent once at most at the SMS provider; every SENT row exactly once."""
    with database.read() as session:
        rows = session.execute(select(Notification.idempotency_key, Notification.status)).all()
    statuses = Counter(str(status) for _key, status in rows)
    sent = [key for key, status in rows if status == NotificationStatus.SENT]
    lost = sum(1 for key in sent if out_ids[key] == 0)
    lost += statuses[str(NotificationStatus.PENDING)]
    duplicated = sum(n - 1 for n in out_ids.values() if n > 1)
    known = {key for key, _status in rows}
    unknown = sum(n for key, n in out_ids.items() if key not in known)
    detail = f"{sum(out_ids.values()):,} texts at the SMS emulator for {len(rows):,} outbox rows ("
    detail += ", ".join(f"{n:,} {status}" for status, n in sorted(statuses.items())) + ")"
    if unknown:
        detail += f"; {unknown} texts no row names"
    return Check("texts sent (SMS emulator)", lost, duplicated + unknown, detail)


@dataclass(frozen=True)
class Queue:
    pending: int
    running: int
    dead: int
    errors: Counter[str]  # jobs that failed at least once, by kind and why (retried or dead)


def read_queue(database: Database) -> Queue:
    """The jobs left, the periodic ones (which re-arm themselves for ever) aside."""
    not_periodic = or_(Job.key.is_(None), ~Job.key.startswith("periodic:"))
    with database.read() as session:
        statuses = Counter(
            str(status) for status in session.scalars(select(Job.status).where(not_periodic))
        )
        failed = session.execute(
            select(Job.kind, Job.last_error).where(Job.last_error.is_not(None), not_periodic)
        ).all()
    # The error's first words: its type, or the worker's note on a job taken back.
    errors = Counter(f"{kind} ({' '.join(str(why).split()[:4])})" for kind, why in failed)
    return Queue(
        statuses[str(JobStatus.PENDING)],
        statuses[str(JobStatus.RUNNING)],
        statuses[str(JobStatus.DEAD)],
        errors,
    )
