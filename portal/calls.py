"""The one way routes call the backend: reads inline or on the pool, writes on the pool.

Writes go to threads because on SQLite they may wait for the write lock (busy
timeout) and must not stall the event loop. On SQLite they go through one thread:
SQLite runs one writer at a time anyway, and threads queueing on its lock back off
with growing sleeps, which put the push-callback p99 at 200+ ms (bench/push_callbacks.py)
where one writer thread keeps it near the median. Short indexed reads run inline
when `inline_reads` is on: measured in bench/tracking_page.py, that serves the
tracking page on SQLite at about 1.5x the throughput of a pool hop per query. On
PostgreSQL each read is a network round trip that holds the loop; there the two
measure within run-to-run noise of each other.

A request waits a bounded time for the writer (WRITER_QUEUE_SECONDS) and, once on it,
for SQLite's lock (REQUEST_LOCK_WAIT_SECONDS, the busy timeout of the request's
`Database`): while another process holds the lock, callers get a 503 within about
4.5 s (WeChat Pay and Shopify give up on an answer after 5 s) instead of a hang.
A write that gave up never started, so nothing is stored that was not acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

P = ParamSpec("P")
R = TypeVar("R")

WRITER_QUEUE_SECONDS = 1.5
REQUEST_LOCK_WAIT_SECONDS = 3.0


class WriterBusy(Exception):
    """The writer stayed taken for longer than a request may wait: nothing was started."""


async def write(request: Request, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    writer: anyio.CapacityLimiter = request.app.state.write_limiter
    try:
        with anyio.fail_after(WRITER_QUEUE_SECONDS):
            await writer.acquire()
    except TimeoutError:
        raise WriterBusy from None
    try:
        result = await anyio.to_thread.run_sync(
            partial(fn, *args, **kwargs), limiter=request.app.state.write_threads
        )
    finally:
        writer.release()
    request.app.state.outage.database_works()
    return result


async def read(request: Request, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    if request.app.state.settings.inline_reads:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)
