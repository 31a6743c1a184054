"""DingTalk (钉钉) custom robot with 加签: the webhook URL carries a signed timestamp.

Protocol facts: docs/protocols.md, "Group robots / DingTalk custom robot".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from backend.notifications.base import (
    DEFAULT_TIMEOUT,
    NotificationRejected,
    NotificationUnavailable,
    json_object,
    request,
)
from backend.robots.base import RobotMessage

PROVIDER = "dingtalk_robot"
ENDPOINT = "https://oapi.dingtalk.com"
SEND_PATH = "/robot/send"
# Our own cap, the same as WeCom's: DingTalk's byte limit for markdown was not found, and an
# alert that needs more than this is better read on the page its link opens.
MARKDOWN_LIMIT = 4096
# 130101: sending faster than 20 a minute (the robot is then muted for a while); -1: busy.
RETRYABLE_CODES = frozenset({130101, -1})


def sign(timestamp_ms: int, secret: str) -> str:
    """Base64 of HMAC-SHA256 over "<timestamp>\\n<secret>", keyed by the secret.

    httpx URL-encodes the query value, which is the last step of DingTalk's recipe.
    """
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def build_send(message: RobotMessage) -> dict[str, Any]:
    return {
        "msgtype": "markdown",
        "markdown": {"title": message.title, "text": message.markdown(MARKDOWN_LIMIT)},
    }


def parse_send(body: Mapping[str, Any]) -> None:
    code = body.get("errcode")
    if code == 0:
        return
    reason = str(body.get("errmsg", ""))[:200]
    if not isinstance(code, int):
        raise NotificationUnavailable(PROVIDER, f"answer without errcode: {reason}")
    if code in RETRYABLE_CODES:
        raise NotificationUnavailable(PROVIDER, reason, code=str(code))
    # 310000 (signature, keyword or IP check failed) and a wrong token need a person.
    raise NotificationRejected(PROVIDER, reason, code=str(code))


class DingTalkRobot:
    provider = PROVIDER

    def __init__(
        self,
        http: httpx.Client,
        access_token: str,
        secret: str,
        *,
        base_url: str = ENDPOINT,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._http, self._token, self._secret = http, access_token, secret
        self._base_url, self._clock_ms = base_url.rstrip("/"), clock_ms

    def send(self, message: RobotMessage) -> None:
        timestamp = self._clock_ms()
        response = request(
            self._http,
            "POST",
            self._base_url + SEND_PATH,
            provider=PROVIDER,
            timeout=DEFAULT_TIMEOUT,
            params={
                "access_token": self._token,
                "timestamp": str(timestamp),
                "sign": sign(timestamp, self._secret),
            },
            content=json.dumps(build_send(message), ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
        )
        parse_send(json_object(response, PROVIDER))
