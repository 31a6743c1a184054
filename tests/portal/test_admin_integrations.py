"""The integration health page: who may open it, what it shows, and an empty start."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from backend.breaker import Breaker
from backend.breaker_states import BreakerStateRecorder, BreakerStateRow
from backend.clock import utcnow
from backend.jobs import GiveUp, enqueue
from backend.jobs.worker import Worker
from backend.orders.models import ChannelEvent, IntakeOutcome, SalesChannel
from backend.staff.models import Role
from tests.portal.helpers import staff_login


def open_breaker(database, name: str, process: str) -> None:
    recorder = BreakerStateRecorder(database, process)
    breaker = Breaker(name, threshold=1, on_change=recorder)
    breaker.record_failure()
    recorder.close()


def a_quiet_channel(database) -> None:
    with database.write() as session:
        session.add(
            ChannelEvent(
                channel=SalesChannel.JD,
                body="{}",
                outcome=IntakeOutcome.CREATED,
                received_at=utcnow() - timedelta(days=3),
            )
        )


def a_dead_job(database) -> None:
    def refuse(db, payload):
        raise GiveUp("never")

    with database.write() as session:
        enqueue(session, "carrier.cancel_label", {"waybill": "SF1"})
    Worker(database, {"carrier.cancel_label": refuse}).run_until_idle()


@pytest.mark.parametrize("role", [Role.SUPPORT, Role.WAREHOUSE, Role.FINANCE])
def test_roles_without_job_management_get_403(client, database, role):
    staff_login(client, database, role)
    assert client.get("/admin/integrations").status_code == 403


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN])
def test_supervisor_and_admin_see_the_page_even_with_every_table_empty(client, database, role):
    staff_login(client, database, role)
    response = client.get("/admin/integrations")
    assert response.status_code == 200
    html = response.text
    for section in ("breakers", "carrier-pushes", "channel-pushes", "dead-jobs"):
        assert f'id="{section}"' in html
    assert 'href="/admin/jobs"' in html and 'href="/admin/confirmations"' in html
    assert 'href="/admin/integrations"' in html  # the menu names it


def test_the_page_shows_an_open_breaker_a_quiet_channel_and_dead_jobs(client, database):
    open_breaker(database, "sf", "web:1")
    a_quiet_channel(database)
    a_dead_job(database)
    staff_login(client, database, Role.SUPERVISOR)
    html = client.get("/admin/integrations").text
    assert 'class="request breaker breaker-open"' in html and 'data-provider="sf"' in html
    assert '<tr class="push late" data-source="jd">' in html
    assert (
        '<tr data-kind="carrier.cancel_label"><td><code>carrier.cancel_label</code></td><td>1</td>'
        in html
    )


def test_a_breaker_only_a_silent_process_reported_is_shown_as_last_known(client, database):
    open_breaker(database, "kuaidi100", "gone:9")
    with database.write() as session:
        session.execute(update(BreakerStateRow).values(changed_at=utcnow() - timedelta(minutes=30)))
    staff_login(client, database, Role.ADMIN)
    html = client.get("/admin/integrations").text
    assert 'breaker-open stale" data-provider="kuaidi100"' in html
