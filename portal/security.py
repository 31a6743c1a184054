"""Response headers and CSRF protection, as pure ASGI middleware.

CSRF uses a per-browser random token in an HttpOnly cookie, echoed by every form
(hidden field) and every htmx request (header, set once on <body>). Webhooks are
exempt: they are authenticated by their own signatures, not by a browser.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.critical_css import CRITICAL_CSS_SOURCE

CSRF_COOKIE = "portal_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The mini-program API reads no cookie: its only credential is a bearer token in the
# Authorization header, which a cross-site form or script cannot make a browser send.
EXEMPT_PREFIXES = ("/webhooks/", "/api/miniprogram/")
MAX_FORM_BYTES_FOR_CHECK = 256 * 1024
# A multipart form (a file upload) is read only until its token part ends, and no further
# than this: every template opens its forms with csrf_field(), so the token comes first and
# at most this much of an upload is held before the app reads it as a stream.
MAX_MULTIPART_BYTES_BEFORE_TOKEN = 16 * 1024

# The customer pages' inline <style> is allowed by its hash, computed at start from
# portal.css (portal/critical_css.py); no other inline style is.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' {CRITICAL_CSS_SOURCE}",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                # Link codes live in paths; no Referer may carry them to another site.
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _forbidden(reason: str) -> PlainTextResponse:
    return PlainTextResponse(f"403 Forbidden: {reason}", status_code=403)


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, secure: bool = False) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        token = _cookie(headers, CSRF_COOKIE)
        fresh = not _well_formed(token)
        if fresh:
            token = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = token
        path: str = scope["path"]
        if scope["method"] not in SAFE_METHODS and not path.startswith(EXEMPT_PREFIXES):
            problem, receive = await _check(scope, receive, headers, None if fresh else token)
            if problem:
                await _forbidden(problem)(scope, receive, send)
                return

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                cookie = f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax"
                if self.secure:
                    cookie += "; Secure"
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _well_formed(token: str | None) -> bool:
    return bool(token) and 20 <= len(token or "") <= 64


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _check(
    scope: Scope, receive: Receive, headers: Headers, expected: str | None
) -> tuple[str | None, Receive]:
    origin = headers.get("origin")
    if origin and origin != "null":
        host = headers.get("host", "")
        if urlsplit(origin).netloc != host:
            return "cross-origin request", receive
    if expected is None:
        return "missing CSRF cookie; reload the page", receive
    sent = headers.get(CSRF_HEADER)
    content_type = headers.get("content-type", "")
    if sent is None and content_type.startswith("application/x-www-form-urlencoded"):
        body, receive = await _buffer(receive)
        if body is None:
            return "form too large", receive
        values = parse_qs(body.decode("latin-1")).get(CSRF_FIELD)
        sent = values[0] if values else None
    elif sent is None and content_type.startswith("multipart/form-data"):
        sent, receive = await _multipart_token(receive, content_type)
    if not sent or not secrets.compare_digest(sent, expected):
        return "CSRF token missing or wrong; reload the page and try again", receive
    return None, receive


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole (small) body, then hand the app a receive that replays it."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES_FOR_CHECK:
            return None, receive
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    return body, _replaying(body, False, receive)


def _replaying(body: bytes, more_body: bool, receive: Receive) -> Receive:
    """A receive that hands the app what was read first, then the rest of the request."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replay


class _TokenPart:
    """Streaming-parser callbacks that keep the csrf_token part's value and nothing else.

    The parser may hand over any piece of a header or a value in several calls.
    """

    def __init__(self) -> None:
        self.header_field = self.header_value = b""
        self.in_token = False
        self.value: bytes | None = None
        self.chunks: list[bytes] = []

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.in_token, self.chunks = False, []

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_field.lower() == b"content-disposition":
            _, options = parse_options_header(self.header_value)
            self.in_token = options.get(b"name") == CSRF_FIELD.encode()
        self.header_field = self.header_value = b""

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_token:
            self.chunks.append(data[start:end])

    def on_part_end(self) -> None:
        if self.in_token and self.value is None:
            self.value = b"".join(self.chunks)
        self.in_token, self.chunks = False, []


async def _multipart_token(receive: Receive, content_type: str) -> tuple[str | None, Receive]:
    """The csrf_token part of a multipart body, reading no further than it (and at most
    MAX_MULTIPART_BYTES_BEFORE_TOKEN); what was read is replayed to the app."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        return None, receive
    token = _TokenPart()
    parser = MultipartParser(boundary, token.callbacks())
    chunks, size, more = [], 0, True
    while more and token.value is None and size < MAX_MULTIPART_BYTES_BEFORE_TOKEN:
        message = await receive()
        if message["type"] == "http.disconnect":
            more = False
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        more = message.get("more_body", False)
        try:
            parser.write(chunk[: MAX_MULTIPART_BYTES_BEFORE_TOKEN - size])
        except MultipartParseError:
            break
        size += len(chunk)
    sent = token.value.decode("latin-1") if token.value is not None else None
    return sent, _replaying(b"".join(chunks), more, receive)
