"""Retrying dead jobs is the backend's decision too: only staff allowed to manage jobs may."""

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.dead_jobs import list_dead_jobs, retry_dead_job, retry_dead_kind
from backend.jobs import GiveUp, enqueue
from backend.jobs.models import Job, JobStatus
from backend.jobs.worker import Worker
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from backend.staff.permissions import PermissionDenied
from tests.factories import SYSTEM


def dead_job(database) -> int:
    def refuse(db, payload):
        raise GiveUp("never")

    with database.write() as session:
        enqueue(session, "carrier.cancel_label", {"order_id": 999_999})  # no such order
    Worker(database, {"carrier.cancel_label": refuse}).run_until_idle()
    (job,) = list_dead_jobs(database).jobs
    assert job.order_id is None  # an order the payload names but that is not there
    return job.id


def staff(database, role: Role) -> Actor:
    name = f"{role}-staff"
    add_staff(database, name, role, "correct-horse-battery", SYSTEM)
    return Actor(ActorKind.STAFF, name, channel="admin", role=role)


def state(database, job_id: int) -> tuple[JobStatus, int, int]:
    with database.read() as session:
        job = session.get(Job, job_id)
        events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        return job.status, job.attempts, events


@pytest.mark.parametrize(
    "who",
    [
        lambda db: staff(db, Role.SUPPORT),
        lambda db: staff(db, Role.FINANCE),
        lambda db: Actor(ActorKind.STAFF, "nobody", channel="admin"),
        lambda db: Actor(ActorKind.CUSTOMER, "13800138000", channel="sms-link"),
    ],
    # A disabled account has no session to act from: disabling ends them (test_staff_sessions).
    ids=["support", "finance", "staff-without-role", "customer"],
)
def test_a_retry_by_anyone_without_the_permission_is_refused_and_changes_nothing(database, who):
    job_id = dead_job(database)
    actor = who(database)
    before = state(database, job_id)
    with pytest.raises(PermissionDenied):
        retry_dead_job(database, job_id, actor)
    with pytest.raises(PermissionDenied):
        retry_dead_kind(database, "carrier.cancel_label", actor)
    assert state(database, job_id) == before


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN])
def test_supervisors_and_admins_may_retry(database, role):
    job_id = dead_job(database)
    retry_dead_job(database, job_id, staff(database, role))
    assert state(database, job_id)[:2] == (JobStatus.PENDING, 0)


def test_the_system_may_retry_a_whole_kind(database):
    job_id = dead_job(database)
    assert retry_dead_kind(database, "carrier.cancel_label", SYSTEM) == 1
    assert state(database, job_id)[:2] == (JobStatus.PENDING, 0)
