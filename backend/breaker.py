"""The circuit breaker every outbound adapter shares: stop calling a provider that is down."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerChange:
    """A breaker moved to `state`; `failures` is the run of failures that led there."""

    name: str
    state: BreakerState
    failures: int


class BreakerOpen(Exception):
    """Calls to this provider are paused after repeated failures; retry after `retry_after` s."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"{name}: circuit open, retry in {retry_after:.0f}s")
        self.retry_after = retry_after


class Breaker:
    """Stops calling a provider after `threshold` retryable failures in a row.

    After `cool_down` seconds one trial call is let through (half-open): success closes
    the circuit, failure opens it again. Rejections (4xx) prove the provider is up, so
    callers record them as successes. The clock is injected so tests need not wait.
    Each domain raises its own "try later" error for an open circuit (`opened`), so that
    its callers' retry handling sees it as the unavailability it is.

    `on_change` hears every transition (opened, trial let through, closed), after the
    lock is released; whoever builds the breaker decides what to do with it (the portal
    persists it, so a staff page sees every process's breakers). It must not block: a
    transition happens in the middle of an outbound call, sometimes inside a transaction.
    """

    def __init__(
        self,
        name: str,
        *,
        threshold: int = 5,
        cool_down: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerChange], None] | None = None,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.cool_down = cool_down
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        # When the half-open trial call went out; a trial never reported back (the caller
        # crashed) is given up after another cool-down rather than blocking forever.
        self._trial_started: float | None = None
        # Worker threads share one breaker per provider.
        self._lock = threading.Lock()
        self._on_change = on_change
        # The state last told to on_change: half-open is a matter of time passing, so it is
        # told when the trial call goes out, not when the cool-down ends.
        self._told = BreakerState.CLOSED

    def opened(self, retry_after: float) -> Exception:
        """The error before_call raises while the circuit is open."""
        return BreakerOpen(self.name, retry_after)

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.cool_down:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self) -> None:
        """Raise `opened(...)` unless a call may go out now."""
        with self._lock:
            state = self._state()
            if state == BreakerState.CLOSED:
                return
            now = self._clock()
            trial = state == BreakerState.HALF_OPEN and (
                self._trial_started is None or now - self._trial_started >= self.cool_down
            )
            if trial:
                self._trial_started = now
                change = self._transition(BreakerState.HALF_OPEN)
            else:
                since = self._trial_started if self._trial_started is not None else self._opened_at
                assert since is not None
                retry_after = max(self.cool_down - (now - since), 0.0)
        if not trial:
            raise self.opened(retry_after)
        self._tell(change)

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_started = None
            change = self._transition(BreakerState.CLOSED)
        self._tell(change)

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_started is not None or self._failures >= self.threshold:
                self._opened_at = self._clock()
            self._trial_started = None
            now_state = BreakerState.OPEN if self._opened_at is not None else BreakerState.CLOSED
            change = self._transition(now_state)
        self._tell(change)

    def _transition(self, state: BreakerState) -> BreakerChange | None:
        """The change to tell (called under the lock), or None when nothing changed."""
        if state == self._told:
            return None
        self._told = state
        return BreakerChange(self.name, state, self._failures)

    def _tell(self, change: BreakerChange | None) -> None:
        if change is None or self._on_change is None:
            return
        try:
            self._on_change(change)
        except Exception:  # a broken listener must not fail the provider call it watches
            log.exception("breaker %s: on_change failed", self.name)
