"""Idle workers on PostgreSQL are woken by the commit that enqueues, not by a poll."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from backend.clock import utcnow
from backend.jobs.queue import enqueue
from backend.jobs.wakeup import Wakeup
from backend.jobs.worker import LISTENING_POLL, Worker
from tests.waiting import wait_until

# Far longer than any wake-up: a wait that lasted this long heard nothing.
QUIET = 60.0


@pytest.fixture
def postgres(database):
    if database.is_sqlite:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    return database


@pytest.fixture
def wakeup(postgres):
    listener = Wakeup(postgres.url)
    assert listener.wait(0) is False  # connects and listens; nothing was missed
    assert listener.listening
    yield listener
    listener.close()


def waited(listener: Wakeup, seconds: float = QUIET) -> tuple[bool, float]:
    started = time.monotonic()
    woken = listener.wait(seconds)
    return woken, time.monotonic() - started


class Abandoned(Exception):
    pass


def enqueue_later(database, *, commit: bool) -> threading.Thread:
    def write() -> None:
        time.sleep(0.2)
        try:
            with database.write() as session:
                enqueue(session, "test.noop")
                if not commit:
                    raise Abandoned
        except Abandoned:
            pass

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_a_committed_enqueue_wakes_a_listener(postgres, wakeup):
    writer = enqueue_later(postgres, commit=True)
    woken, seconds = waited(wakeup)
    writer.join()
    assert woken is True
    assert seconds < QUIET


def test_a_rolled_back_enqueue_wakes_nobody(postgres, wakeup):
    writer = enqueue_later(postgres, commit=False)
    woken, _seconds = waited(wakeup, 2.0)
    writer.join()
    assert woken is False


def test_a_key_already_queued_sends_no_second_wake_up(postgres, wakeup):
    with postgres.write() as session:
        enqueue(session, "test.noop", key="once")
    assert wakeup.wait(QUIET) is True
    with postgres.write() as session:
        enqueue(session, "test.noop", key="once")
    assert wakeup.wait(2.0) is False


def test_an_interrupt_ends_the_wait_at_once(wakeup):
    threading.Timer(0.2, wakeup.interrupt).start()
    woken, seconds = waited(wakeup)
    assert woken is False
    assert seconds < QUIET


def test_without_a_database_to_listen_on_the_wait_is_a_plain_sleep():
    listener = Wakeup(None)
    try:
        woken, seconds = waited(listener, 0.3)
        assert (woken, listener.listening) == (False, False)
        assert seconds >= 0.3
    finally:
        listener.close()


def test_an_idle_worker_runs_a_job_enqueued_later_and_stops_at_once(postgres):
    ran = threading.Event()
    worker = Worker(postgres, {"test.noop": lambda _db, _payload: ran.set()}, name="wakeup")
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        wait_until(lambda: worker._wakeup is not None and worker._wakeup.listening, what="listen")
        with postgres.write() as session:
            enqueue(session, "test.noop")
        assert ran.wait(QUIET)
    finally:
        worker.stop()
        thread.join(timeout=QUIET)
    assert not thread.is_alive()


def test_the_idle_wait_ends_when_the_next_job_falls_due(postgres):
    worker = Worker(postgres, {}, name="due")
    wakeup = Wakeup(postgres.url)
    try:
        wakeup.wait(0)
        with postgres.write() as session:
            enqueue(session, "test.noop", run_at=utcnow() + timedelta(seconds=2))
        seconds = worker._idle_seconds(wakeup, 0.5)
        assert 0 < seconds <= 2
    finally:
        wakeup.close()
    assert worker._idle_seconds(wakeup, 0.5) == 0.5  # closed, so not listening: the poll


def test_with_nothing_queued_the_idle_wait_is_the_listening_poll(postgres):
    worker = Worker(postgres, {}, name="quiet")
    wakeup = Wakeup(postgres.url)
    try:
        wakeup.wait(0)
        assert worker._idle_seconds(wakeup, 0.5) == pytest.approx(
            LISTENING_POLL.total_seconds(), abs=0.5
        )
    finally:
        wakeup.close()
