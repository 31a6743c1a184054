"""X-Request-ID: taken from the caller (a proxy in front) when it is sane, else made here.

It is set for the request's whole task, so every log line of the request carries it
(uvicorn's access line and its "Exception in ASGI application" too), the backend stores
it with the jobs the request enqueues (backend/request_context.py), and the answer
echoes it, so a customer's screenshot of a failure leads to its lines.
"""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.request_context import REQUEST_ID_LENGTH, set_request_id

HEADER = "X-Request-ID"
# Whatever a proxy sends goes into log lines and a column: letters, digits and -._: only.
_SANE = re.compile(rf"[A-Za-z0-9._:-]{{1,{REQUEST_ID_LENGTH}}}")


def new_request_id() -> str:
    return secrets.token_hex(16)


def request_id_of(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            given = value.decode("latin-1").strip()
            if _SANE.fullmatch(given):
                return given
    return new_request_id()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        # Not reset afterwards: uvicorn runs each request in a task of its own, whose
        # context copy ends with it, and its error line for a crash comes after this returns.
        set_request_id(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
