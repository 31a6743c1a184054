"""The one way routes call the backend: reads inline or on the pool, writes on the pool.

Writes go to the thread pool because on SQLite they may wait for the write lock
(busy timeout) and must not stall the event loop. Short indexed reads run inline
when `inline_reads` is on: measured in bench/tracking_page.py, that serves the
tracking page at several times the throughput of a pool hop per query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

P = ParamSpec("P")
R = TypeVar("R")


async def write(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    return await run_in_threadpool(fn, *args, **kwargs)


async def read(request: Request, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    if request.app.state.settings.inline_reads:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)
