"""WeChat's domain check files (MP_verify_*.txt and the mini-program's business-domain file),
served at the site root with the exact text WeChat handed out (docs/protocols.md, "WeChat
web-view"). Which files exist is a setting, so nothing else at the root answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def routes_for(files: Mapping[str, str]) -> list[Route]:
    def endpoint_for(text: str) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            return PlainTextResponse(text, headers={"Cache-Control": "public, max-age=300"})

        return serve

    return [Route(f"/{name}", endpoint_for(text)) for name, text in sorted(files.items())]
