"""Recorded channel payloads from payloads/<channel>/<case>.json, and a UTC datetime shorthand."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).parent / "payloads"
CASES = ("normal", "multi_line", "update", "cancelled", "garbage")


def payload_bytes(channel: str, case: str) -> bytes:
    return (PAYLOADS / channel / f"{case}.json").read_bytes()


def load_payload(channel: str, case: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(payload_bytes(channel, case))
    return payload


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)
