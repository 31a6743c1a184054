"""Counts link opens and page views in memory and adds them to the database in batches.

A write per page view would cost the tracking page (served from a cache in about a
millisecond) far more than the view itself. So each process counts in memory and a
daemon thread adds its counts every FLUSH_SECONDS, and once more at shutdown. A process
killed outright loses at most that many seconds of counts: these are figures for a
funnel, not money.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import date

from backend.clock import shanghai_date, utcnow
from backend.db import Database
from backend.funnel import FunnelStep, add_counts

log = logging.getLogger(__name__)
FLUSH_SECONDS = 30.0


class FunnelCounter:
    def __init__(self, database: Database, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._database = database
        self._flush_seconds = flush_seconds
        self._counts: Counter[tuple[date, FunnelStep]] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, step: FunnelStep) -> None:
        with self._lock:
            self._counts[(shanghai_date(utcnow()), step)] += 1

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        try:
            add_counts(self._database, counts)
        except Exception as error:
            log.warning("funnel counts not written: %s", type(error).__name__)
            with self._lock:
                self._counts.update(counts)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="funnel-counter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()
