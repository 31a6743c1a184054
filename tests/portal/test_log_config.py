"""Log lines as `portal serve` writes them: console or JSON, with the request id, masked,
and the demo emulators' access lines only when asked for. Each case runs in a process of
its own, since it configures that process's logging for good."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from portal.log_config import check_format

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import logging, logging.config, sys
import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from backend.request_context import set_request_id
from emulators.serving import serve_in_thread
from portal.log_config import serve_log_config

logging.config.dictConfig(serve_log_config(sys.argv[1], sys.argv[2] == "1"))
poll = Route("/poll", lambda request: PlainTextResponse("ok"), methods=["POST"])
emulator = Starlette(routes=[poll])
with serve_in_thread(emulator) as url:
    assert httpx.post(url + "/poll").status_code == 200
set_request_id("req-77")
access = logging.getLogger("uvicorn.access")
path = "/t/AbCd2345?q=13917263548"
access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", path, "1.1", 303)
try:
    raise ValueError("provider answered 13917263548")
except ValueError:
    logging.getLogger("portal.errors").exception("unhandled error on GET /o/eyJ.sig")
"""


def run(log_format: str, emulator_access: bool = False) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, log_format, "1" if emulator_access else "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout + done.stderr


def test_console_lines_are_readable_and_carry_the_request_id():
    text = run("console")
    assert '"GET /t/<code> HTTP/1.1" 303' in text
    assert "request_id=req-77" in text and "[uvicorn.access]" in text
    assert "ValueError: provider answered <phone>" in text
    assert "13917263548" not in text and "AbCd2345" not in text and "eyJ.sig" not in text


def test_json_lines_are_one_object_each_with_fields():
    lines = [json.loads(line) for line in run("json").splitlines() if line.startswith("{")]
    (access,) = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert access["request_id"] == "req-77"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/t/<code>", 303)
    (error,) = [line for line in lines if line["logger"] == "portal.errors"]
    assert (
        error["level"] == "error" and "ValueError: provider answered <phone>" in error["exception"]
    )
    assert "13917263548" not in json.dumps(lines)


def test_the_demo_emulators_access_lines_stay_out_unless_asked_for():
    assert "POST /poll" not in run("console")
    assert "POST /poll" in run("console", emulator_access=True)


def test_an_unknown_format_is_refused_in_one_line():
    with pytest.raises(ValueError, match="PORTAL_LOG_FORMAT: 'yaml' is neither console nor json"):
        check_format("yaml")
