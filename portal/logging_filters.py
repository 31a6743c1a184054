"""What may reach a log line: never a link code, token, phone number, query string or street.

The rule, for `portal serve` and `portal worker` alike:
- Access log lines keep the route's shape and drop the query string: `/t/<code>`,
  `/o/<token>`, `/webhooks/sf/<token>`; searches (`?q=` a phone or a street) and the
  language switch's `next=` never appear.
- Our own messages format ids, kinds and exception types, never personal data, provider
  answers or exception texts (`backend.jobs` logs the type; the engine hides SQL parameters).
- A last filter on every handler masks what slips through anyway, in messages, arguments
  and tracebacks: mainland mobile numbers, link paths, the query strings of URLs, and
  PostgreSQL's error DETAIL line (it quotes the row or key that failed).
httpx's INFO lines (a full URL per request, access tokens in some) are not logged at all.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from backend.phones import replace_mobiles

# Paths whose last part is a bearer credential: the SMS code, the signed link, SF's push path.
_SECRET_PATH = re.compile(r"(/t/|/o/|/webhooks/sf/)[^/\s?#\"'<>]+")
_SECRET_NAMES = {"/t/": "<code>", "/o/": "<token>", "/webhooks/sf/": "<token>"}
# A path or URL followed by its query string (searches carry phones and streets).
_QUERY = re.compile(r"((?:https?://[^\s/?#\"'<>]+)?/[^\s?#\"'<>]*)\?[^\s#\"'<>]*")
# PostgreSQL's error detail quotes the values: "Key (phone)=(...)", "Failing row contains (...)".
_DATABASE_DETAIL = re.compile(r"^(DETAIL:\s*).*$", re.MULTILINE)


def redact(text: str) -> str:
    """Link credentials to their route's shape, query strings dropped, phones masked."""
    text = _QUERY.sub(r"\1", text)
    text = _SECRET_PATH.sub(lambda m: m.group(1) + _SECRET_NAMES[m.group(1)], text)
    text = _DATABASE_DETAIL.sub(r"\1<values hidden>", text)
    return replace_mobiles(text, "<phone>")


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactPersonalData(logging.Filter):
    """The last filter before a handler writes: masks each argument, message and traceback.

    Arguments are masked one by one rather than rendered, because uvicorn's access
    formatter reads them as a tuple (client, method, path, version, status).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


FILTER = {"()": "portal.logging_filters.RedactPersonalData"}
QUIET = {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}}
