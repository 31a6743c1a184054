"""WeCom (企业微信) group robot: POST a markdown message to the robot's webhook key.

Protocol facts: docs/protocols.md, "Group robots / WeCom group robot".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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

PROVIDER = "wecom_robot"
ENDPOINT = "https://qyapi.weixin.qq.com"
SEND_PATH = "/cgi-bin/webhook/send"
# markdown.content is limited to 4096 bytes of UTF-8.
MARKDOWN_LIMIT = 4096
# 45009: the robot's 20-messages-a-minute limit; -1: system busy. Both pass with time.
RETRYABLE_CODES = frozenset({45009, -1})


def build_send(message: RobotMessage) -> dict[str, Any]:
    return {
        "msgtype": "markdown",
        "markdown": {"content": message.markdown(MARKDOWN_LIMIT)},
    }


def parse_send(body: Mapping[str, Any]) -> None:
    """errcode 0 is accepted; a retryable code raises Unavailable, any other Rejected."""
    code = body.get("errcode")
    if code == 0:
        return
    reason = str(body.get("errmsg", ""))[:200]
    if not isinstance(code, int):
        raise NotificationUnavailable(PROVIDER, f"answer without errcode: {reason}")
    if code in RETRYABLE_CODES:
        raise NotificationUnavailable(PROVIDER, reason, code=str(code))
    raise NotificationRejected(PROVIDER, reason, code=str(code))


class WeComRobot:
    provider = PROVIDER

    def __init__(self, http: httpx.Client, key: str, *, base_url: str = ENDPOINT) -> None:
        self._http, self._key, self._base_url = http, key, base_url.rstrip("/")

    def send(self, message: RobotMessage) -> None:
        response = request(
            self._http,
            "POST",
            self._base_url + SEND_PATH,
            provider=PROVIDER,
            timeout=DEFAULT_TIMEOUT,
            params={"key": self._key},
            content=json.dumps(build_send(message), ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
        )
        parse_send(json_object(response, PROVIDER))
