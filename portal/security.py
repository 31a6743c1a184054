"""Response headers and CSRF protection, as pure ASGI middleware.

CSRF uses a per-browser random token in an HttpOnly cookie, echoed by every form
(hidden field) and every htmx request (header, set once on <body>). Webhooks are
exempt: they are authenticated by their own signatures, not by a browser.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "portal_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXEMPT_PREFIXES = ("/webhooks/",)
MAX_FORM_BYTES_FOR_CHECK = 256 * 1024

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
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
    if sent is None and headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        body, receive = await _buffer(receive)
        if body is None:
            return "form too large", receive
        values = parse_qs(body.decode("latin-1")).get(CSRF_FIELD)
        sent = values[0] if values else None
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
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
