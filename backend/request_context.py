"""The request a piece of work comes from: its id, on every log line and in the jobs it enqueues.

The web layer sets it for each request; `jobs.enqueue` stores it with the job, and the
worker sets it again while it runs that job, so one id follows a customer's click into
the background work it caused (and the jobs that work enqueues in turn).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID_LENGTH = 64  # as the jobs table keeps it

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(request_id: str | None) -> None:
    """For the rest of this context (a request's own task: it ends with the request)."""
    _request_id.set(request_id)


@contextmanager
def request_id_bound(request_id: str | None) -> Iterator[None]:
    """For the block only: a worker thread runs one job after another."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)
