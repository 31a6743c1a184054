"""The one way routes call the backend: reads inline or on the pool, writes on the pool.

Writes go to threads because on SQLite they may wait for the write lock (busy
timeout) and must not stall the event loop. On SQLite they go through one thread:
SQLite runs one writer at a time anyway, and threads queueing on its lock back off
with growing sleeps, which put the push-callback p99 at 200+ ms (bench/push_callbacks.py)
where one writer thread keeps it near the median. Short indexed reads run inline
when `inline_reads` is on: measured in bench/tracking_page.py, that serves the
tracking page on SQLite at about 1.5x the throughput of a pool hop per query. On
PostgreSQL each read is a network round trip that holds the loop; there the pool
won in every run measured (README, Performance).

A write request has REQUEST_WRITE_SECONDS in all, for the writer thread and then for
SQLite's lock (the rest of its time becomes the busy timeout): while another process
holds the lock, callers get a 503 within about 4 s instead of a hang, and a burst that
keeps the writer busy is still served. A write that gave up never began, so nothing is
stored that was not acknowledged. The worker keeps its long wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from backend.db import lock_wait_until

P = ParamSpec("P")
R = TypeVar("R")

# How long a write request may wait, for the writer and then for SQLite's lock together.
# WeChat Pay and Shopify give up on an answer after 5 s; a 503 before that asks them to
# send it again, where a late 200 would be lost on them.
REQUEST_WRITE_SECONDS = 3.5


class WriterBusy(Exception):
    """No writer came free within the request's time: nothing was started."""


class Writer:
    """The write slots requests queue for: one on SQLite, `threads` on PostgreSQL."""

    def __init__(self, slots: int) -> None:
        self._slots = anyio.CapacityLimiter(slots)
        # Holding a slot, a write always finds a thread here.
        self._threads = anyio.CapacityLimiter(slots)

    async def run(self, fn: Callable[[], R], seconds: float) -> R:
        """`fn` on a writer thread, if one comes free within `seconds`, which also bound
        its wait for SQLite's lock; a write that gave up has not begun."""
        deadline = time.monotonic() + seconds
        with anyio.move_on_after(seconds) as queued:
            await self._slots.acquire()
        if queued.cancelled_caught:
            raise WriterBusy
        try:
            return await anyio.to_thread.run_sync(
                partial(_until, deadline, fn), limiter=self._threads
            )
        finally:
            self._slots.release()


def _until(deadline: float, fn: Callable[[], R]) -> R:
    with lock_wait_until(deadline):
        return fn()


async def write(request: Request, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    writer: Writer = request.app.state.writer
    result = await writer.run(partial(fn, *args, **kwargs), REQUEST_WRITE_SECONDS)
    request.app.state.outage.database_works()
    return result


async def read(request: Request, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    if request.app.state.settings.inline_reads:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)


async def outbound(request: Request, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """A service that calls a provider (a carrier booking, up to its 10 s timeout) and then
    writes briefly: on the pool, not in a writer slot, so a slow carrier never holds the
    one SQLite writer that every other request queues for. Its short write waits for the
    lock with the connection's default busy timeout."""
    result = await run_in_threadpool(fn, *args, **kwargs)
    request.app.state.outage.database_works()
    return result
