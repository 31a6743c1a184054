"""The integration health read model, on known data: breakers over processes, pushes, dead jobs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from backend.breaker import Breaker, BreakerState
from backend.breaker_states import BreakerStateRecorder, BreakerStateRow
from backend.clock import SHANGHAI, utcnow
from backend.integration_health import get_integration_health
from backend.jobs import GiveUp, enqueue
from backend.jobs.worker import Worker
from backend.logistics.models import TrackingEvent
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import ChannelEvent, IntakeOutcome, SalesChannel
from tests.factories import SYSTEM, create_shipment, make_order

# A Tuesday afternoon in Shanghai: working hours, so "quiet" is plain minutes here.
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=SHANGHAI)


def trip(recorder: BreakerStateRecorder, name: str, *, then_close: bool = False) -> None:
    """A real breaker in that "process": two failures open it, a success closes it."""
    breaker = Breaker(name, threshold=2, on_change=recorder)
    breaker.record_failure()
    breaker.record_failure()
    if then_close:
        breaker.record_success()
    recorder.flush()


def at(database, process: str, when: datetime) -> None:
    with database.write() as session:
        session.execute(
            update(BreakerStateRow)
            .where(BreakerStateRow.process == process)
            .values(changed_at=when, since=when)
        )


def test_a_breaker_open_in_one_process_and_closed_in_another_shows_open_since_it_opened(
    database,
):
    web, worker = BreakerStateRecorder(database, "web:1"), BreakerStateRecorder(database, "wk:2")
    try:
        trip(web, "sf")
        trip(worker, "sf", then_close=True)
        trip(worker, "kuaidi100", then_close=True)
    finally:
        web.close(), worker.close()
    at(database, "web:1", NOW - timedelta(minutes=4))
    at(database, "wk:2", NOW - timedelta(minutes=1))
    health = get_integration_health(database, NOW)
    sf, kuaidi100 = health.breakers
    assert (sf.provider, sf.state, sf.processes, sf.is_stale) == ("sf", BreakerState.OPEN, 2, False)
    assert sf.since == NOW - timedelta(minutes=4) and sf.failures == 2
    assert (kuaidi100.provider, kuaidi100.state) == ("kuaidi100", BreakerState.CLOSED)
    assert [provider.provider for provider in health.open_breakers] == ["sf"]


def test_a_process_silent_for_ten_minutes_no_longer_counts(database):
    gone, alive = BreakerStateRecorder(database, "gone:1"), BreakerStateRecorder(database, "up:2")
    try:
        trip(gone, "sms")
        trip(alive, "sms", then_close=True)
        trip(gone, "wechat:wx1")
    finally:
        gone.close(), alive.close()
    at(database, "gone:1", NOW - timedelta(minutes=11))
    at(database, "up:2", NOW - timedelta(minutes=2))
    by_name = {p.provider: p for p in get_integration_health(database, NOW).breakers}
    assert by_name["sms"].state == BreakerState.CLOSED and by_name["sms"].processes == 1
    only_gone = by_name["wechat:wx1"]
    assert only_gone.is_stale and only_gone.state == BreakerState.OPEN
    assert not only_gone.is_troubled  # the last word of a process maybe gone, shown apart


def test_a_reopened_breaker_keeps_the_start_of_its_outage(database):
    recorder = BreakerStateRecorder(database, "web:1")
    clock = [0.0]
    breaker = Breaker("sf", threshold=1, cool_down=30, clock=lambda: clock[0], on_change=recorder)
    try:
        breaker.record_failure()
        recorder.flush()
        with database.read() as session:
            (first,) = session.query(BreakerStateRow).all()
        clock[0] = 31
        breaker.before_call()
        breaker.record_failure()
        recorder.flush()
    finally:
        recorder.close()
    with database.read() as session:
        (row,) = session.query(BreakerStateRow).all()
    assert row.state == BreakerState.OPEN and row.since == first.since
    assert row.changed_at >= first.changed_at


def test_a_channel_quiet_past_the_threshold_is_flagged_and_a_recent_carrier_is_not(database):
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "shunfeng", "SF1000000000001", SYSTEM)
    event = CarrierEvent(utcnow(), TrackingStatus.IN_TRANSIT, "运输中")
    record_tracking_update(
        database,
        "shunfeng",
        "SF1000000000001",
        [event],
        source="sf",
        full_history=False,
        actor=SYSTEM,
    )
    with database.write() as session:
        session.execute(update(TrackingEvent).values(received_at=NOW - timedelta(minutes=3)))
        for channel, minutes in ((SalesChannel.JD, 45), (SalesChannel.TAOBAO, 2)):
            session.add(
                ChannelEvent(
                    channel=channel,
                    body="{}",
                    outcome=IntakeOutcome.CREATED,
                    received_at=NOW - timedelta(minutes=minutes),
                )
            )
    health = get_integration_health(database, NOW)
    assert [(c.source, c.is_quiet) for c in health.channels] == [("jd", True), ("taobao", False)]
    assert health.channels[0].quiet_for == timedelta(minutes=45)
    assert [(c.source, c.is_quiet, c.quiet_for) for c in health.carriers] == [
        ("sf", False, timedelta(minutes=3))
    ]


def test_dead_jobs_are_counted_by_kind_with_the_oldest(database):
    def refuse(db, payload):
        raise GiveUp("never")

    with database.write() as session:
        for number in range(2):
            enqueue(session, "carrier.cancel_label", {"order_id": 900_000 + number})
        enqueue(session, "outbox.send", {"notification_id": 900_000})
    Worker(database, {"carrier.cancel_label": refuse, "outbox.send": refuse}).run_until_idle()
    health = get_integration_health(database, NOW)
    assert [(kind.kind, kind.count) for kind in health.dead_jobs] == [
        ("carrier.cancel_label", 2),
        ("outbox.send", 1),
    ]
    assert health.dead_total == 3 and health.dead_jobs[0].oldest is not None


def test_empty_tables_give_an_empty_page_not_an_error(database):
    health = get_integration_health(database, NOW)
    assert (health.breakers, health.carriers, health.channels, health.dead_jobs) == ([],) * 4
    assert health.refused_confirmations == 0
