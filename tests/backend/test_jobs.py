"""Durable jobs: enqueued in the caller's transaction, claimed once, retried, never lost."""

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, text

from backend.clock import utcnow
from backend.jobs.models import Job, JobStatus
from backend.jobs.pruning import prune_finished
from backend.jobs.queue import (
    MAX_ATTEMPTS,
    Batched,
    GiveUp,
    Periodic,
    RetryLater,
    backoff,
    enqueue,
)
from backend.jobs.worker import Worker
from tests.waiting import wait_until


def jobs(database):
    with database.read() as session:
        return {job.id: job for job in session.scalars(select(Job))}


def test_a_job_rolled_back_with_its_transaction_never_existed(database):
    try:
        with database.write() as session:
            enqueue(session, "notify", {"order": 1})
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert jobs(database) == {}


def test_the_same_key_is_enqueued_once(database):
    with database.write() as session:
        enqueue(session, "notify", {"n": 1}, key="sms:order-1:shipped")
    with database.write() as session:
        enqueue(session, "notify", {"n": 2}, key="sms:order-1:shipped")
    (job,) = jobs(database).values()
    assert job.payload == {"n": 1}


def lock_waiters(database) -> int:
    with database.engine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )


def test_a_twin_enqueuing_the_same_key_at_once_adds_nothing_and_keeps_its_transaction(database):
    """Four workers starting together each arm the periodic jobs: the twins must not fail."""
    inserted, release, errors = threading.Event(), threading.Event(), []

    def first():
        with database.write() as session:
            enqueue(session, "tick", {"by": "first"}, key="periodic:tick")
            session.flush()
            inserted.set()
            release.wait(60)

    def twin():
        try:
            with database.write() as session:
                enqueue(session, "tick", {"by": "twin"}, key="periodic:tick")
                enqueue(session, "other", {"by": "twin"})
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=first), threading.Thread(target=twin)]
    threads[0].start()
    assert inserted.wait(30)
    threads[1].start()
    if not database.is_sqlite:  # the twin's insert waits on the first one's uncommitted key
        wait_until(lambda: lock_waiters(database), what="the twin to wait on the key")
    release.set()
    for thread in threads:
        thread.join(60)
    assert errors == []
    stored = sorted((job.kind, job.payload["by"]) for job in jobs(database).values())
    assert stored == [("other", "twin"), ("tick", "first")]


def test_a_successful_job_is_marked_done(database):
    seen = []
    with database.write() as session:
        enqueue(session, "echo", {"value": 42})
    worker = Worker(database, {"echo": lambda db, payload: seen.append(payload["value"])})
    assert worker.run_until_idle() == 1
    assert seen == [42]
    (job,) = jobs(database).values()
    assert (job.status, job.attempts, job.finished_at is not None) == (JobStatus.DONE, 1, True)


def test_a_failing_job_is_retried_later_with_backoff_and_its_error_kept(database):
    def explode(db, payload):
        raise ConnectionError("carrier unreachable")

    with database.write() as session:
        enqueue(session, "explode")
    worker = Worker(database, {"explode": explode})
    worker.run_until_idle()
    (job,) = jobs(database).values()
    assert job.status == JobStatus.PENDING
    assert job.run_at > utcnow() + timedelta(seconds=5)
    assert "carrier unreachable" in job.last_error
    assert worker.run_until_idle() == 0  # not due yet


def test_a_job_that_keeps_failing_ends_dead_not_deleted(database):
    with database.write() as session:
        enqueue(session, "explode")
    worker = Worker(database, {"explode": lambda db, p: 1 / 0})
    for _ in range(MAX_ATTEMPTS):
        with database.write() as session:
            for job in session.scalars(select(Job)):
                job.run_at = utcnow() - timedelta(seconds=1)
        worker.run_one()
    (job,) = jobs(database).values()
    assert (job.status, job.attempts) == (JobStatus.DEAD, MAX_ATTEMPTS)


def test_retry_later_does_not_count_as_a_failure(database):
    with database.write() as session:
        enqueue(session, "night")
    worker = Worker(
        database,
        {
            "night": lambda db, p: (_ for _ in ()).throw(
                RetryLater(timedelta(hours=8), "quiet hours")
            )
        },
    )
    worker.run_until_idle()
    (job,) = jobs(database).values()
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
    assert job.run_at > utcnow() + timedelta(hours=7)


def test_an_unknown_job_kind_is_kept_for_a_worker_that_knows_it(database):
    with database.write() as session:
        enqueue(session, "from-the-future")
    Worker(database, {}).run_until_idle()
    (job,) = jobs(database).values()
    assert job.status == JobStatus.PENDING
    assert "no handler" in job.last_error


def test_a_periodic_job_rearms_itself(database):
    runs = []
    worker = Worker(
        database, {"tick": lambda db, p: runs.append(1)}, [Periodic("tick", timedelta(minutes=5))]
    )
    worker.arm_periodic()
    worker.arm_periodic()
    assert worker.run_until_idle() == 1
    (job,) = jobs(database).values()
    assert job.status == JobStatus.PENDING
    assert job.run_at > utcnow() + timedelta(minutes=4)
    assert runs == [1]


def test_a_job_abandoned_by_a_dead_worker_is_taken_over_after_its_lease(database):
    with database.write() as session:
        enqueue(session, "echo")
    crashed = Worker(database, {}, name="crashed")
    assert crashed.claim() is not None
    healthy = Worker(database, {"echo": lambda db, p: None}, name="healthy")
    assert healthy.claim() is None
    assert healthy.claim(now=utcnow() + timedelta(minutes=6)) is not None


def test_workers_racing_for_jobs_run_each_job_exactly_once(database):
    total = 60
    with database.write() as session:
        for number in range(total):
            enqueue(session, "count", {"n": number})
    ran: Counter[int] = Counter()
    lock = threading.Lock()

    def count(db, payload):
        with lock:
            ran[payload["n"]] += 1

    workers = [Worker(database, {"count": count}, name=f"w{i}") for i in range(4)]
    threads = [threading.Thread(target=w.run_until_idle) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ran) == list(range(total))
    assert set(ran.values()) == {1}
    assert {job.status for job in jobs(database).values()} == {JobStatus.DONE}


def test_backoff_doubles_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(30) == timedelta(hours=1)


def test_a_job_that_gives_up_is_dead_at_once(database):
    def refuse(db, payload):
        raise GiveUp("the carrier rejected the waybill number")

    with database.write() as session:
        enqueue(session, "refuse")
    Worker(database, {"refuse": refuse}).run_until_idle()
    (job,) = jobs(database).values()
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
    assert "rejected" in job.last_error


def job_row(database, job_id):
    with database.read() as session:
        return session.get(Job, job_id)


def only_job_id(database) -> int:
    (job_id,) = jobs(database)
    return job_id


def test_a_slow_handler_keeps_its_job_past_the_lease_with_a_heartbeat(database):
    lease = timedelta(seconds=1)
    with database.write() as session:
        enqueue(session, "slow")
    started, release = threading.Event(), threading.Event()

    def slow(db, payload):
        started.set()
        release.wait(60)

    worker = Worker(database, {"slow": slow}, name="slow-one", lease=lease)
    thread = threading.Thread(target=worker.run_one)
    thread.start()
    assert started.wait(30)
    job_id = only_job_id(database)
    claimed_at = job_row(database, job_id).locked_at
    renewed = wait_until(
        lambda: (row := job_row(database, job_id)).locked_at > claimed_at + lease and row,
        what="the lease to be renewed past its first end",
    )
    # Looked at then, the job is not abandoned: nobody else may take it.
    other = Worker(database, {"slow": slow}, name="other", lease=lease)
    assert other.claim(now=renewed.locked_at + lease / 2) is None
    release.set()
    thread.join(60)
    done = job_row(database, job_id)
    assert (done.status, done.attempts) == (JobStatus.DONE, 1)


def test_a_restarted_worker_takes_back_at_once_what_its_previous_life_held(database):
    with database.write() as session:
        enqueue(session, "mine")
        enqueue(session, "theirs")
    before = Worker(database, {}, name="host:w1")
    before.start()
    assert before.claim().kind == "mine"  # ... and then the process is killed
    elsewhere = Worker(database, {}, name="host:w2")
    elsewhere.start()
    assert elsewhere.claim().kind == "theirs"  # a live worker's job, held
    ran = []
    after = Worker(database, {"mine": lambda db, p: ran.append(1)}, name="host:w1")
    assert after.start() == 1
    by_kind = {job.kind: job for job in jobs(database).values()}
    assert (by_kind["mine"].status, by_kind["mine"].locked_by) == (JobStatus.PENDING, None)
    assert (by_kind["theirs"].status, by_kind["theirs"].locked_by) == (
        JobStatus.RUNNING,
        elsewhere.instance,
    )
    assert after.run_until_idle() == 1
    mine = job_row(database, by_kind["mine"].id)
    assert (mine.status, mine.attempts, ran) == (JobStatus.DONE, 2, [1])


def test_a_job_that_killed_its_worker_at_every_try_ends_dead(database):
    with database.write() as session:
        enqueue(session, "poison")
    with database.write() as session:
        session.get(Job, only_job_id(database)).attempts = MAX_ATTEMPTS - 1
    before = Worker(database, {}, name="host:w1")
    before.start()
    assert before.claim() is not None  # the last try; the worker dies again
    Worker(database, {}, name="host:w1").start()
    job = job_row(database, only_job_id(database))
    assert (job.status, job.attempts) == (JobStatus.DEAD, MAX_ATTEMPTS)
    assert "restarted" in job.last_error


def test_a_stopping_worker_claims_nothing_more(database):
    with database.write() as session:
        enqueue(session, "echo")
    worker = Worker(database, {"echo": lambda db, p: None})
    worker.stop()
    assert worker.run_until_idle() == 0
    job = job_row(database, only_job_id(database))
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)


def age(database, kinds: set[str], days: int) -> None:
    then = utcnow() - timedelta(days=days)
    with database.write() as session:
        for job in session.scalars(select(Job).where(Job.kind.in_(kinds))):
            job.run_at = job.created_at = then
            job.finished_at = then if job.finished_at else None


def test_done_jobs_past_the_retention_are_pruned_in_batches_and_dead_ones_are_kept(database):
    with database.write() as session:
        for kind in ("old-1", "old-2", "old-3", "recent-1", "recent-2", "doomed"):
            enqueue(session, kind)
        enqueue(session, "later", run_at=utcnow() + timedelta(days=30))

    def refuse(db, payload):
        raise GiveUp("never")

    handlers = {kind: (lambda db, p: None) for kind in ("old-1", "old-2", "old-3", "recent-1")}
    Worker(
        database, {**handlers, "recent-2": lambda db, p: None, "doomed": refuse}
    ).run_until_idle()
    age(database, {"old-1", "old-2", "old-3", "doomed"}, days=8)
    assert prune_finished(database, timedelta(days=7), batch=2) == 3
    left = sorted((job.kind, job.status) for job in jobs(database).values())
    assert left == [
        ("doomed", JobStatus.DEAD),
        ("later", JobStatus.PENDING),
        ("recent-1", JobStatus.DONE),
        ("recent-2", JobStatus.DONE),
    ]
    assert prune_finished(database, timedelta(days=7)) == 0


def test_a_batch_handler_gets_its_kinds_due_jobs_at_once_and_each_keeps_its_own_outcome(database):
    with database.write() as session:
        for value in ("ok", "later", "never", "ok-too", "beyond-the-batch"):
            enqueue(session, "many", {"value": value})
        enqueue(session, "other", {"value": "x"})
    calls = []

    def run_many(db, payloads):
        calls.append([payload["value"] for payload in payloads])
        outcomes = {"later": RetryLater(timedelta(hours=1)), "never": GiveUp("no")}
        return [outcomes.get(payload["value"]) for payload in payloads]

    worker = Worker(
        database,
        {"many": Batched(run_many), "other": lambda db, p: calls.append([p["value"]])},
        batch_size=4,
    )
    assert worker.run_batch() == 4
    assert calls == [["ok", "later", "never", "ok-too"]]
    by_value = {job.payload["value"]: job for job in jobs(database).values()}
    assert (by_value["ok"].status, by_value["ok-too"].status) == (JobStatus.DONE, JobStatus.DONE)
    assert (by_value["later"].status, by_value["later"].attempts) == (JobStatus.PENDING, 0)
    assert (by_value["never"].status, by_value["never"].attempts) == (JobStatus.DEAD, 1)
    assert by_value["beyond-the-batch"].status == JobStatus.PENDING
    assert worker.run_until_idle() == 2  # the fifth, then the other kind, each alone
    assert calls[1:] == [["beyond-the-batch"], ["x"]]


def test_a_batch_whose_handler_fails_as_a_whole_records_the_error_on_every_job(database):
    with database.write() as session:
        for value in range(3):
            enqueue(session, "many", {"value": value})

    def broken(db, payloads):
        raise ConnectionError("database away")

    Worker(database, {"many": Batched(broken)}).run_batch()
    rows = list(jobs(database).values())
    assert {(job.status, job.attempts) for job in rows} == {(JobStatus.PENDING, 1)}
    assert all("database away" in job.last_error for job in rows)
