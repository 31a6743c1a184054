"""Real loopback servers for carrier tests: uvicorn in a thread, and webhook receivers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from backend.logistics.carriers import kuaidi100, sf
from backend.logistics.carriers.base import ParsedPush

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str) -> str:
    """A recorded payload exactly as received (editors' trailing newlines aside)."""
    return (PAYLOADS / name).read_text(encoding="utf-8").rstrip("\n")


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port; yields its base URL."""
    # The explicit IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets whose proto
    # says TCP, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan="off", ws="none", http="h11", loop="asyncio", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


Handler = Callable[[ParsedPush], None]


class Kuaidi100Inbox:
    """Our side of a Kuaidi100 push: verify the sign, parse, hand over, reply as documented."""

    def __init__(self, salt: str, handle: Handler | None = None) -> None:
        self.salt = salt
        self.handle = handle
        self.received: list[ParsedPush] = []
        self.refused = 0
        self.fail_next = 0  # answer this many pushes with HTTP 500, as a broken database would
        self.app = Starlette(routes=[Route("/hooks/kuaidi100", self._push, methods=["POST"])])

    async def _push(self, request: Request) -> Response:
        form = await request.form()
        param, sign = str(form.get("param", "")), str(form.get("sign", ""))
        if not kuaidi100.verify_push_signature(param, sign, self.salt):
            self.refused += 1
            return JSONResponse({"result": False, "returnCode": "403", "message": "签名错误"}, 403)
        if self.fail_next:
            self.fail_next -= 1
            return JSONResponse({"result": False, "returnCode": "500", "message": "稍后重试"}, 500)
        parsed = kuaidi100.parse_push(param)
        if self.handle is not None:
            await run_in_threadpool(self.handle, parsed)
        self.received.append(parsed)
        return JSONResponse(kuaidi100.PUSH_REPLY_OK)


class SfInbox:
    """Our side of an SF route push: a secret path token (JSON) or msgDigest (form variant)."""

    def __init__(self, token: str, check_word: str = "", handle: Handler | None = None) -> None:
        self.token = token
        self.check_word = check_word
        self.handle = handle
        self.received: list[ParsedPush] = []
        self.refused = 0
        self.app = Starlette(routes=[Route("/hooks/sf/{token}", self._push, methods=["POST"])])

    async def _is_authentic(self, request: Request) -> tuple[bool, str]:
        if not sf.verify_push_token(request.path_params["token"], self.token):
            return False, ""
        if not request.headers.get("content-type", "").startswith("application/x-www-form"):
            return True, (await request.body()).decode("utf-8")
        form = await request.form()
        body = str(form.get("msgData", ""))
        digest, timestamp = str(form.get("msgDigest", "")), str(form.get("timestamp", ""))
        return sf.verify_push(body, timestamp, digest, self.check_word), body

    async def _push(self, request: Request) -> Response:
        authentic, body = await self._is_authentic(request)
        if not authentic:
            self.refused += 1
            return JSONResponse({"return_code": "1000", "return_msg": "refused"}, 403)
        for parsed in sf.parse_route_push(body):
            if self.handle is not None:
                await run_in_threadpool(self.handle, parsed)
            self.received.append(parsed)
        return JSONResponse(sf.PUSH_REPLY_OK)
