"""Loopback WeCom group robot and DingTalk custom robot, with the messages they accepted.

Both check what the real robots check (the webhook key or token, DingTalk's signed
timestamp, the size limit, 20 messages a minute per robot) and answer with the same
errcode bodies, so the adapters' error handling is exercised, not assumed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEMO_WECOM_KEYS = ("emulator-wecom-robot-key",)
DEMO_DINGTALK_ROBOTS = {"emulator-dingtalk-token": "SECemulator-dingtalk-secret"}
PER_MINUTE = 20
# Re-stated here rather than imported from the adapters, so the emulator checks them
# independently (docs/protocols.md, "Group robots").
WECOM_SEND_PATH = "/cgi-bin/webhook/send"
DINGTALK_SEND_PATH = "/robot/send"
WECOM_MARKDOWN_BYTES = 4096
DINGTALK_TOLERANCE_MS = 60 * 60 * 1000


@dataclass(frozen=True)
class RobotPost:
    robot: str  # "wecom" or "dingtalk"
    address: str  # the webhook key or access token it was posted to
    title: str
    text: str
    at: float


class RobotEmulator:
    def __init__(
        self,
        *,
        wecom_keys: tuple[str, ...] = DEMO_WECOM_KEYS,
        dingtalk_robots: Mapping[str, str] = DEMO_DINGTALK_ROBOTS,
        clock: Callable[[], float] = time.time,
        per_minute: int = PER_MINUTE,
    ) -> None:
        self.wecom_keys = set(wecom_keys)
        self.dingtalk_robots = dict(dingtalk_robots)
        self.clock, self.per_minute = clock, per_minute
        self.messages: list[RobotPost] = []
        self._recent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _over_limit(self, address: str) -> bool:
        now = self.clock()
        recent = self._recent.setdefault(address, deque())
        while recent and now - recent[0] >= 60:
            recent.popleft()
        if len(recent) >= self.per_minute:
            return True
        recent.append(now)
        return False

    async def wecom_send(self, request: Request) -> Response:
        key = request.query_params.get("key", "")
        if key not in self.wecom_keys:
            return _errcode(93000, "invalid webhook url")
        body = await _json_body(request)
        content = _field(body, "markdown", "content") or _field(body, "text", "content")
        if content is None:
            return _errcode(40008, "invalid message type")
        if len(content.encode()) > WECOM_MARKDOWN_BYTES:
            return _errcode(40058, "markdown.content exceed max length 4096")
        with self._lock:
            if self._over_limit("wecom:" + key):
                return _errcode(45009, "api freq out of limit")
            self.messages.append(RobotPost("wecom", key, "", content, self.clock()))
        return _errcode(0, "ok")

    async def dingtalk_send(self, request: Request) -> Response:
        token = request.query_params.get("access_token", "")
        secret = self.dingtalk_robots.get(token)
        if secret is None:
            return _errcode(300001, "token is not exist")
        timestamp = request.query_params.get("timestamp", "")
        signature = request.query_params.get("sign", "")
        if not _dingtalk_signed(timestamp, signature, secret, int(self.clock() * 1000)):
            return _errcode(310000, "sign not match")
        body = await _json_body(request)
        text = _field(body, "markdown", "text") or _field(body, "text", "content")
        if text is None:
            return _errcode(40035, "缺少参数 json")
        with self._lock:
            if self._over_limit("dingtalk:" + token):
                return _errcode(130101, "send too fast, exceed 20 times per minute")
            title = _field(body, "markdown", "title") or ""
            self.messages.append(RobotPost("dingtalk", token, title, text, self.clock()))
        return _errcode(0, "ok")

    async def list_messages(self, request: Request) -> Response:
        with self._lock:
            posts = [post.__dict__ for post in self.messages]
        return JSONResponse(posts)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(WECOM_SEND_PATH, self.wecom_send, methods=["POST"]),
                Route(DINGTALK_SEND_PATH, self.dingtalk_send, methods=["POST"]),
                Route("/_emulator/messages", self.list_messages),
            ]
        )


def _dingtalk_signed(timestamp: str, signature: str, secret: str, now_ms: int) -> bool:
    """DingTalk's 加签 check: HmacSHA256("<timestamp>\\n<secret>") in Base64, timestamp fresh."""
    if not timestamp.isdigit() or abs(now_ms - int(timestamp)) > DINGTALK_TOLERANCE_MS:
        return False
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(expected, signature)


def _errcode(code: int, message: str) -> JSONResponse:
    # Both robots answer HTTP 200 with the outcome in errcode, errors included.
    return JSONResponse({"errcode": code, "errmsg": message})


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


def _field(body: Any, outer: str, inner: str) -> str | None:
    if isinstance(body, dict) and isinstance(body.get(outer), dict):
        value = body[outer].get(inner)
        if isinstance(value, str) and value:
            return value
    return None


def main() -> None:  # pragma: no cover - a manual entry point
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    uvicorn.run(RobotEmulator().app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    main()
