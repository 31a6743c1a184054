"""The rules in force in this process: the newest saved version, read again every little while.

Each web and job process holds one RulesInForce. `current(database)` answers from memory
and reads the newest version (one small query) only when the last read is older than
the refresh interval (PORTAL_RULES_REFRESH_SECONDS, 30 s by default), so a change saved
in the admin is in force everywhere within a minute, with no restart and no message bus.
The read happens on the caller's thread: a 1 ms query every 30 s is not worth a thread
hop. A failed read keeps the last rules known (a database hiccup must not change rules).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from backend.db import Database
from backend.rulebook.fields import apply
from backend.rulebook.service import in_force
from portal.settings import Rules

log = logging.getLogger(__name__)


class RulesInForce:
    def __init__(
        self,
        seed: Rules,
        refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seed = seed
        self._refresh = refresh_seconds
        self._clock = clock
        self._version = -1  # nothing read yet
        self._held: tuple[Rules, int] = (seed, 0)  # one tuple: read together, never torn
        self._read_at: float | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        return max(self._version, 0)

    def current(self, database: Database) -> Rules:
        return self.versioned(database)[0]

    def versioned(self, database: Database) -> tuple[Rules, int]:
        """The rules and their version, read together (a cache key and what it renders)."""
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self._refresh:
            return self._held
        with self._lock:
            if self._read_at is not None and now - self._read_at < self._refresh:
                return self._held
            try:
                newest = in_force(database, self.seed)
            except Exception as error:
                # INFO: an outage is told once, as a warning, by portal/errors.py.
                log.info("rules not re-read: %s", type(error).__name__)
                self._read_at = now
                return self._held
            if newest.version != self._version:
                # Before the first save the environment's rules are in force as they are.
                rules = (
                    apply(self.seed, newest.values, newest.version) if newest.version else self.seed
                )
                self._held = (rules, max(newest.version, 0))
                self._version = newest.version
            self._read_at = now
            return self._held

    def forget(self) -> None:
        """The next call reads again (the rules page, right after a save in this process)."""
        self._read_at = None


def rules_of(request: object) -> Rules:
    """The rules in force for this request (routes: `rules_of(request).refunds`)."""
    state = request.app.state  # type: ignore[attr-defined]
    rules: Rules = state.rules.current(state.database)
    return rules
