"""The breaker tells its listener every transition, once each, and survives a broken one."""

from __future__ import annotations

from backend.breaker import Breaker, BreakerChange, BreakerState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_breaker(heard: list[BreakerChange], clock: Clock) -> Breaker:
    return Breaker("sf", threshold=2, cool_down=30.0, clock=clock, on_change=heard.append)


def test_an_outage_and_its_recovery_are_told_open_half_open_closed_once_each():
    heard: list[BreakerChange] = []
    clock = Clock()
    breaker = make_breaker(heard, clock)
    breaker.record_failure()
    assert heard == []  # one failure below the threshold is no transition
    breaker.record_failure()
    clock.now += 31
    breaker.before_call()  # the trial goes out
    breaker.record_success()
    breaker.record_success()
    assert heard == [
        BreakerChange("sf", BreakerState.OPEN, 2),
        BreakerChange("sf", BreakerState.HALF_OPEN, 2),
        BreakerChange("sf", BreakerState.CLOSED, 0),
    ]


def test_a_failed_trial_is_told_as_opening_again():
    heard: list[BreakerChange] = []
    clock = Clock()
    breaker = make_breaker(heard, clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 31
    breaker.before_call()
    breaker.record_failure()
    assert [change.state for change in heard] == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.OPEN,
    ]


def test_a_listener_that_raises_does_not_fail_the_call_it_watches(caplog):
    def broken(change: BreakerChange) -> None:
        raise RuntimeError("database away")

    breaker = Breaker("sms", threshold=1, on_change=broken)
    breaker.record_failure()
    assert breaker.state == BreakerState.OPEN
    assert "on_change failed" in caplog.text


def test_a_breaker_without_a_listener_behaves_as_before():
    breaker = Breaker("wechat", threshold=1)
    breaker.record_failure()
    assert breaker.state == BreakerState.OPEN
    breaker.record_success()
    assert breaker.state == BreakerState.CLOSED
