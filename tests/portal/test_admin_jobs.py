"""The dead-jobs page: what gave up, about which order; retry one or a kind, audited, permitted."""

import re

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.jobs import GiveUp, enqueue
from backend.jobs.models import Job, JobStatus
from backend.jobs.worker import Worker
from backend.orders.lifecycle import OrderStatus
from backend.refunds import payouts
from backend.refunds.models import Refund
from backend.staff.models import Role
from tests.factories import SYSTEM, make_order
from tests.portal.helpers import csrf_token, staff_login


def give_up(db, payload):
    raise GiveUp("WeChat Pay said NOT_ENOUGH: 商户余额不足")


def dead_refund_jobs(database, count: int) -> list[tuple[int, str]]:
    """(job id, order number) of refund jobs the worker gave up on."""
    made = []
    for _ in range(count):
        order = make_order(database, status=OrderStatus.DELIVERED)
        with database.write() as session:
            refund = payouts.start_refund(session, order.id, 1_000, SYSTEM)
        made.append((refund.id, order.public_no))
    Worker(database, {payouts.EXECUTE: give_up}).run_until_idle()
    with database.read() as session:
        refund_jobs = session.scalars(select(Job).where(Job.kind == payouts.EXECUTE))
        ids = {job.payload["refund_id"]: job.id for job in refund_jobs}
    return [(ids[refund_id], public_no) for refund_id, public_no in made]


def dead_job_of_another_kind(database) -> int:
    with database.write() as session:
        enqueue(session, "carrier.cancel_label", {"waybill": "SF1234567890"})
    Worker(database, {"carrier.cancel_label": give_up}).run_until_idle()
    with database.read() as session:
        return session.scalars(select(Job.id).where(Job.kind == "carrier.cancel_label")).one()


def job(database, job_id: int) -> Job:
    with database.read() as session:
        found = session.get(Job, job_id)
        assert found is not None
        return found


def order_of(database, job_id: int) -> int:
    with database.read() as session:
        refund = session.get(Refund, job(database, job_id).payload["refund_id"])
        assert refund is not None
        return refund.order_id


def retried_events(database) -> list[AuditEvent]:
    with database.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "job.retried")))


def test_staff_see_each_dead_job_with_its_order_and_a_count_by_kind(client, database):
    (refund_job, order_no), _ = dead_refund_jobs(database, 2)
    dead_job_of_another_kind(database)
    staff_login(client, database, Role.SUPERVISOR)
    page = client.get("/admin/jobs")
    assert page.status_code == 200
    html = page.text
    assert re.search(r"<code>refund\.execute</code> <strong>2 个</strong>", html)
    assert re.search(r"<code>carrier\.cancel_label</code> <strong>1 个</strong>", html)
    entry = html[html.index(f'id="job-{refund_job}"') :].split("</article>")[0]
    assert order_no in entry and "/admin/orders/" in entry
    assert "GiveUp: WeChat Pay said NOT_ENOUGH: 商户余额不足" in entry
    assert "尝试 1 次" in entry
    assert 'href="/admin/jobs"' in client.get("/admin/orders").text  # in the staff navigation


def test_retrying_a_dead_job_puts_it_back_with_its_attempts_reset_and_audited(client, database):
    (refund_job, _), (other_refund_job, _) = dead_refund_jobs(database, 2)
    name = staff_login(client, database, Role.ADMIN)
    token = csrf_token(client, "/admin/jobs")
    answer = client.post(
        f"/admin/jobs/{refund_job}/retry", data={"csrf_token": token}, follow_redirects=False
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/admin/jobs")
    retried = job(database, refund_job)
    assert (retried.status, retried.attempts) == (JobStatus.PENDING, 0)
    assert retried.run_at <= utcnow()
    assert job(database, other_refund_job).status == JobStatus.DEAD
    (event,) = retried_events(database)
    assert (event.actor_id, event.subject_id) == (name, str(refund_job))
    assert event.order_id == order_of(database, refund_job)
    assert event.before["status"] == "dead" and event.after["status"] == "pending"
    ran = []
    Worker(database, {payouts.EXECUTE: lambda db, p: ran.append(p)}).run_until_idle()
    assert job(database, refund_job).status == JobStatus.DONE and len(ran) == 1


def test_retrying_a_kind_puts_back_every_dead_job_of_that_kind_only(client, database):
    refund_jobs = [job_id for job_id, _ in dead_refund_jobs(database, 3)]
    other = dead_job_of_another_kind(database)
    staff_login(client, database, Role.SUPERVISOR)
    token = csrf_token(client, "/admin/jobs")
    answer = client.post(
        "/admin/jobs/retry",
        data={"csrf_token": token, "kind": payouts.EXECUTE},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert [job(database, job_id).status for job_id in refund_jobs] == [JobStatus.PENDING] * 3
    assert job(database, other).status == JobStatus.DEAD
    assert sorted(int(e.subject_id) for e in retried_events(database)) == sorted(refund_jobs)
    assert "No dead jobs." not in client.get("/admin/jobs").text


@pytest.mark.parametrize("role", [Role.SUPPORT, Role.WAREHOUSE, Role.FINANCE])
def test_staff_without_the_jobs_permission_can_neither_see_nor_retry(client, database, role):
    ((refund_job, _),) = dead_refund_jobs(database, 1)
    staff_login(client, database, role)
    assert client.get("/admin/jobs").status_code == 403
    assert 'href="/admin/jobs"' not in client.get("/admin/orders").text
    token = csrf_token(client, "/admin/orders")
    one = client.post(f"/admin/jobs/{refund_job}/retry", data={"csrf_token": token})
    kind = client.post("/admin/jobs/retry", data={"csrf_token": token, "kind": payouts.EXECUTE})
    assert (one.status_code, kind.status_code) == (403, 403)
    assert (job(database, refund_job).status, job(database, refund_job).attempts) == (
        JobStatus.DEAD,
        1,
    )
    assert retried_events(database) == []


@pytest.mark.parametrize(
    ("job_id", "status"),
    [("123456789", 303), ("0", 404), ("99999999999999999999", 404), ("abc", 404)],
)
def test_retrying_a_job_that_is_not_there_changes_nothing(client, database, job_id, status):
    ((refund_job, _),) = dead_refund_jobs(database, 1)
    staff_login(client, database, Role.ADMIN)
    token = csrf_token(client, "/admin/jobs")
    answer = client.post(
        f"/admin/jobs/{job_id}/retry", data={"csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == status  # no such job: back to the page, which shows the truth
    assert job(database, refund_job).status == JobStatus.DEAD
    assert retried_events(database) == []
