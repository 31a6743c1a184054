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


async def write(request: Request, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    limiter: anyio.CapacityLimiter = request.app.state.write_limiter
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=limiter)


async def read(request: Request, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    if request.app.state.settings.inline_reads:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)
