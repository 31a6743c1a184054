"""How log lines look: structlog renders every line, human-readable or one JSON object each.

`portal serve` and `portal worker` both log through the standard library (uvicorn, the
backend and the portal's own loggers); structlog's ProcessorFormatter renders each record,
with the level, the logger, a UTC timestamp and the request id (backend/request_context.py)
beside the message. PORTAL_LOG_FORMAT=json makes one JSON object per line for a log
shipper; the default, console, is for a person at a terminal (coloured when it is one).
What may be written at all is portal/logging_filters.py's business: its filter masks each
record before it is rendered here, and the last processor masks every value again.
"""

from __future__ import annotations

import copy
import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from backend.request_context import current_request_id
from portal.logging_filters import FILTER, QUIET, RedactPersonalData, redact

FORMATS = ("console", "json")
# The fields our own records carry in `extra=` (backend/jobs/worker.py); uvicorn's
# color_message and the like stay out.
EXTRA_FIELDS = ("job_id", "job_kind")
# The demo's loopback emulators log their access lines here (emulators/serving.py).
EMULATOR_ACCESS = "emulators.access"


def check_format(log_format: str) -> None:
    if log_format not in FORMATS:
        raise ValueError(f"PORTAL_LOG_FORMAT: {log_format!r} is neither console nor json")


def add_request_id(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    request_id = current_request_id()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def add_access_fields(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """uvicorn's access line as fields too: (client, method, path, http version, status)."""
    arguments = event.pop("positional_args", ())
    record = event.get("_record")
    if record is not None and record.name == "uvicorn.access" and len(arguments) == 5:
        _client, method, path, _version, status = arguments
        event.update(method=method, path=redact(str(path)), status=status)
    return event


def use_masked_traceback(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """The traceback as RedactPersonalData left it, not formatted again from exc_info."""
    record = event.get("_record")
    if record is not None and record.exc_text:
        event.pop("exc_info", None)
        event["exception"] = record.exc_text
    return event


def mask_values(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    for key, value in event.items():
        if isinstance(value, str) and not key.startswith("_"):
            event[key] = redact(value)
    return event


def _shared() -> list[Processor]:
    return [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_request_id,
    ]


def _renderer(log_format: str, stream: Any) -> Processor:
    if log_format == "json":
        return structlog.processors.JSONRenderer(ensure_ascii=False)
    return structlog.dev.ConsoleRenderer(colors=stream.isatty(), pad_event_to=0)


def formatter(log_format: str, stream: Any) -> structlog.stdlib.ProcessorFormatter:
    """`stream` is the stream the lines go to, or its name in sys ("stderr"): a logging
    config handed to `portal serve --workers N` is pickled to each process, a stream not."""
    check_format(log_format)
    if isinstance(stream, str):
        stream = getattr(sys, stream)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *_shared(),
            structlog.stdlib.ExtraAdder(allow=EXTRA_FIELDS),
            add_access_fields,
            use_masked_traceback,
        ],
        processors=[
            structlog.processors.format_exc_info,
            mask_values,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _renderer(log_format, stream),
        ],
        pass_foreign_args=True,
    )


def configure_structlog() -> None:
    """structlog's own loggers (structlog.get_logger()) go through the same handlers."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *_shared(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def serve_log_config(log_format: str = "console", emulator_access: bool = False) -> dict[str, Any]:
    """uvicorn's logging with every handler filtered and rendered by structlog; the portal's
    own loggers on its console handler at INFO (else warnings reach stderr bare and info
    lines, an outage's end, not at all), and any other library's warnings there too.
    The demo emulators' access lines only when asked for (PORTAL_DEMO_EMULATOR_LOG)."""
    from uvicorn.config import LOGGING_CONFIG

    check_format(log_format)
    configure_structlog()
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": FILTER}
    config["formatters"] = {
        name: {"()": formatter, "log_format": log_format, "stream": stream}
        for name, stream in (("default", "stderr"), ("access", "stdout"))
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    for name in ("portal", "backend"):
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    config["loggers"][EMULATOR_ACCESS] = {
        "handlers": ["access"],
        "level": "INFO" if emulator_access else "WARNING",
        "propagate": False,
    }
    config["loggers"].update(QUIET)
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config


def configure_worker_logging(log_format: str = "console") -> None:
    """Lines on stderr for `portal worker`, filtered and rendered like `portal serve`'s."""
    configure_structlog()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactPersonalData())
    handler.setFormatter(formatter(log_format, sys.stderr))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    for name, options in QUIET.items():
        logging.getLogger(name).setLevel(options["level"])
