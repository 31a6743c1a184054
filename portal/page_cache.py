"""Rendered customer pages kept in memory, keyed by everything they show.

A tracking page changes only when its order or shipments change, or when the minute
turns ("updated 3 minutes ago"). The key holds the order's version (read by the one
query that also checks access), the locale, the template and the minute, so a stale
page is never served. The per-browser CSRF token is put in after the cache, so one
rendering serves every visitor of the same order.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from markupsafe import Markup

# Autoescaping turns "&" in any escaped text into "&amp;", so this marker can only come
# from the template itself, never from order data.
CSRF_MARKER = Markup("&csrf-token;")


class PageCache:
    def __init__(
        self, capacity: int = 2048, on_lookup: Callable[[bool], None] | None = None
    ) -> None:
        self.capacity = capacity
        self._on_lookup = on_lookup  # hears hit (True) or miss, for /metrics
        self._pages: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                self.misses += 1
            else:
                self._pages.move_to_end(key)
                self.hits += 1
        if self._on_lookup is not None:
            self._on_lookup(page is not None)
        return page

    def put(self, key: Hashable, page: bytes) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.capacity:
                self._pages.popitem(last=False)


def with_csrf(page: bytes, token: str) -> bytes:
    return page.replace(CSRF_MARKER.encode(), token.encode())
