"""The notification outbox: once per transition, never at night, nothing lost in an outage."""

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from backend.jobs.models import Job, JobStatus
from backend.jobs.worker import Worker
from backend.notifications.base import NotificationRejected, NotificationUnavailable, SendResult
from backend.notifications.models import Notification, NotificationEvent, NotificationStatus
from backend.notifications.outbox import (
    SEND,
    NotificationConfig,
    notify,
    quiet_until,
    send_notification,
)
from backend.orders.access import hash_code
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import ShortLink
from tests.factories import make_order


class RecordingSms:
    """A real SmsSender in-process: it records, or fails the way a provider does."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.sent: list[tuple[str, str, dict, str]] = []
        self.failure = failure

    def send(self, phone, template_code, template_params, out_id):
        if self.failure is not None:
            raise self.failure
        self.sent.append((phone, template_code, dict(template_params), out_id))
        return SendResult("test", out_id, f"biz-{len(self.sent)}")


def config(sms, **overrides):
    values = {
        "sms": sms,
        "sms_templates": {"shipped": "SMS_SHIPPED"},
        "link_base": "https://t.example.cn",
        "link_lifetime": timedelta(days=30),
        "quiet_start": time(0),
        "quiet_end": time(0),
    }
    return NotificationConfig(**(values | overrides))


def queue(database, event=NotificationEvent.SHIPPED):
    order = make_order(database, status=OrderStatus.PAID, phone="13812345678")
    with database.write() as session:
        notify(session, order.id, event, shipment_id=7, details={"waybill": "YT1"})
        notify(session, order.id, event, shipment_id=7, details={"waybill": "YT1"})
    with database.read() as session:
        return session.scalars(select(Notification)).all()


def run(database, cfg):
    Worker(database, {SEND: lambda db, p: send_notification(db, cfg, p)}).run_until_idle()


@pytest.mark.parametrize(
    ("clock", "quiet"),
    [("21:59", False), ("22:00", True), ("03:00", True), ("07:59", True), ("08:00", False)],
)
def test_quiet_hours_run_overnight_in_shanghai_time(clock, quiet):
    hour, minute = map(int, clock.split(":"))
    now = datetime(2026, 11, 22, hour, minute, tzinfo=UTC) - timedelta(hours=8)
    wake = quiet_until(now, time(22), time(8))
    assert (wake is not None) is quiet
    if wake:
        assert (wake.hour, wake.minute) == (8, 0) and wake > now


def test_a_transition_is_queued_once_and_sent_once_with_a_working_short_link(database):
    (notification,) = queue(database)
    sms = RecordingSms()
    run(database, config(sms))
    run(database, config(sms))
    assert len(sms.sent) == 1
    phone, template, params, out_id = sms.sent[0]
    assert (phone, template, out_id) == ("13812345678", "SMS_SHIPPED", notification.idempotency_key)
    assert params["link"].startswith("https://t.example.cn/t/") and len(params["link"]) == 31
    assert "code" not in params
    with database.read() as session:
        assert session.get(Notification, notification.id).status == NotificationStatus.SENT


def test_nothing_is_sent_at_night_and_the_message_waits_for_morning(database):
    queue(database)
    sms = RecordingSms()
    run(database, config(sms, quiet_start=time(0, 0), quiet_end=time(23, 59, 59)))
    assert sms.sent == []
    with database.read() as session:
        job = session.scalars(select(Job).where(Job.kind == SEND)).one()
    assert job.status == JobStatus.PENDING and job.attempts == 0


def test_an_outage_delays_the_message_and_loses_nothing(database):
    (notification,) = queue(database)
    run(database, config(RecordingSms(NotificationUnavailable("test", "503"))))
    with database.read() as session:
        assert session.get(Notification, notification.id).status == NotificationStatus.PENDING
        job = session.scalars(select(Job).where(Job.kind == SEND)).one()
    assert job.status == JobStatus.PENDING and job.run_at > datetime.now(UTC)


def test_a_refused_message_is_marked_failed_and_not_retried(database):
    (notification,) = queue(database)
    run(database, config(RecordingSms(NotificationRejected("test", "invalid number"))))
    with database.read() as session:
        stored = session.get(Notification, notification.id)
        job = session.scalars(select(Job).where(Job.kind == SEND)).one()
    assert stored.status == NotificationStatus.FAILED and "invalid number" in stored.last_error
    assert job.status == JobStatus.DONE


def test_a_send_that_may_have_gone_through_is_not_repeated(database):
    (notification,) = queue(database)
    run(database, config(RecordingSms(NotificationUnavailable("test", "timeout", maybe_sent=True))))
    with database.read() as session:
        assert session.get(Notification, notification.id).status == NotificationStatus.UNCERTAIN


def test_an_event_without_a_template_is_skipped(database):
    (notification,) = queue(database, NotificationEvent.EXCEPTION)
    sms = RecordingSms()
    run(database, config(sms))
    with database.read() as session:
        assert session.get(Notification, notification.id).status == NotificationStatus.SKIPPED
    assert sms.sent == []


def short_links(database):
    with database.read() as session:
        return session.scalars(select(ShortLink)).all()


def test_a_skipped_message_issues_no_link(database):
    queue(database, NotificationEvent.EXCEPTION)
    run(database, config(RecordingSms()))
    assert short_links(database) == []


def test_a_retried_message_sends_the_link_made_for_its_first_attempt(database):
    queue(database)
    run(database, config(RecordingSms(NotificationUnavailable("test", "503"))))
    with database.write() as session:
        session.execute(update(Job).values(run_at=datetime.now(UTC)))
    sms = RecordingSms()
    run(database, config(sms, link_lifetime=timedelta(days=3)))
    (link,) = short_links(database)
    code = sms.sent[0][2]["link"].rsplit("/", 1)[1]
    assert link.code_hash == hash_code(code)
    assert link.expires_at - link.created_at == timedelta(days=30)  # made by the first attempt


def test_quiet_hours_saved_on_the_rules_page_hold_the_next_message(database):
    """The worker's handler takes the quiet hours in force (portal/background.py)."""
    from backend.actors import Actor, ActorKind
    from backend.notifications.outbox import with_rules
    from backend.rulebook.fields import seed_values
    from backend.rulebook.service import save_version
    from backend.staff.models import Role
    from portal.rules_in_force import RulesInForce
    from portal.settings import Settings, build_rules

    seed = build_rules(Settings(quiet_hours="00:00-00:00"))  # never quiet
    in_force = RulesInForce(seed, refresh_seconds=0)
    supervisor = Actor(ActorKind.STAFF, "周主管", role=Role.SUPERVISOR)
    from backend.clock import SHANGHAI, utcnow

    here = utcnow().astimezone(SHANGHAI)
    quiet = f"{here - timedelta(hours=1):%H:%M}-{here + timedelta(hours=1):%H:%M}"  # now is inside
    values = seed_values(seed) | {"notices.quiet_hours": quiet}
    save_version(database, values, 0, "夜间不发", supervisor, seed)
    queue(database)
    sms = RecordingSms()
    cfg = config(sms)

    def send(db, payload):
        send_notification(db, with_rules(cfg, in_force.current(db).notices), payload)

    Worker(database, {SEND: send}).run_until_idle()
    assert sms.sent == []
    start, end = in_force.current(database).notices.quiet_hours
    assert f"{start:%H:%M}-{end:%H:%M}" == quiet
