"""Settings refused at start: the value types, ranges, URLs and PORTAL_* names checked once."""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import Field
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class SettingsError(ValueError):
    """A setting the portal will not start with; the message is one line naming the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(problem if problem.startswith(variable) else f"{variable}: {problem}")
        self.variable = variable


def variable_of(name: str) -> str:
    return f"PORTAL_{name.upper()}"


# PORTAL_* variables that are not settings of the portal but are read by name elsewhere:
# settings.py itself (where var/ is), the test suite, the browser tests, the benchmarks.
ALLOWED_VARIABLES = frozenset(
    {
        "PORTAL_VAR_DIR",  # portal/settings.py: the directory the defaults live under
        "PORTAL_TEST_DATABASE_URL",  # tests/conftest.py: the PostgreSQL database tests use
        "PORTAL_CHROMIUM",  # tests/browser: Debian's Chromium (Makefile, make test)
        "PORTAL_SCREENSHOT_DIR",  # tests/browser/screenshots.py: where screenshots go
    }
)
ALLOWED_PREFIXES = ("PORTAL_BENCH_",)  # bench/: database URL, durations, connection counts

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})

# (lowest, highest) a number may be; None: no bound that side. A number not listed here
# may be anything >= 0: nothing in the settings counts below zero.
LIMITS: Mapping[str, tuple[float | None, float | None]] = {
    "link_max_age_days": (1, None),
    "short_link_days": (1, None),
    "customer_session_hours": (1, None),
    "staff_session_hours": (1, None),
    "tracking_refresh_seconds": (1, None),
    "rules_refresh_seconds": (0, None),  # 0: every request reads them (tests, one-box demos)
    "auto_complete_days": (1, None),
    "threads": (1, 1000),
    "sf_express_type_id": (1, None),
    "sf_pay_method": (1, 3),  # 1 sender pays, 2 recipient, 3 third party
    "wechat_miniprogram_session_minutes": (1, None),
}
# Settings whose value is one of a few words.
CHOICES: Mapping[str, frozenset[str]] = {
    "default_locale": frozenset({"zh_CN", "en"}),
}
# Every setting named *_url or *_endpoint is an http(s) URL (or empty, if so by default),
# except these.
NOT_HTTP_URLS = frozenset({"database_url"})
SHAPES = {
    "bool": "1/0, true/false, yes/no or on/off",
    "int": "a whole number",
    "float": "a number",
    "tuple[str, ...]": "comma-separated words",
    "str": "text",
}


def refuse_unknown_variables(environ: Iterable[str], names: Iterable[str]) -> None:
    """A misspelt PORTAL_* name stops the start instead of leaving its default in force."""
    known = {variable_of(name) for name in names}
    for variable in sorted(environ):
        if not variable.startswith("PORTAL_") or variable in known:
            continue
        if variable in ALLOWED_VARIABLES or variable.startswith(ALLOWED_PREFIXES):
            continue
        close = difflib.get_close_matches(variable, sorted(known), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else " (portal settings --env-example)"
        raise SettingsError(variable, f"{variable} is not a setting{hint}")


def coerce(spec: Field[object], raw: str) -> object:
    """The environment's text as the field's type; SettingsError when it is not one."""
    kind, text = str(spec.type), raw.strip()
    try:
        if kind == "bool":
            if text.lower() in TRUE_WORDS | FALSE_WORDS:
                return text.lower() in TRUE_WORDS
            raise ValueError
        if kind == "int":
            return int(text)
        if kind == "float":
            number = float(text)
            if not math.isfinite(number):
                raise ValueError
            return number
    except ValueError:
        raise SettingsError(variable_of(spec.name), f"{raw!r} is not {SHAPES[kind]}") from None
    if kind == "tuple[str, ...]":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def check_value(spec: Field[object], value: object) -> None:
    """Type, range, choice and URL of one field's value, from the environment or Python."""
    try:
        _check_once(spec.name, str(spec.type), type(value).__name__, value, spec.default == "")
    except TypeError:  # not hashable, so not a value a setting can have
        _check_type(variable_of(spec.name), str(spec.type), value)


@functools.lru_cache(maxsize=4096)
def _check_once(name: str, kind: str, value_type: type, value: object, empty_default: bool) -> None:
    """Cached: tests and `replace` make many Settings, nearly all of defaults. The type is in
    the key so that True is not taken for a checked 1. A URL whose default is empty may be
    left empty (the feature off)."""
    variable = variable_of(name)
    _check_type(variable, kind, value)
    if kind in ("int", "float"):
        assert isinstance(value, int | float)
        _check_range(name, variable, value)
    if isinstance(value, str):
        choices = CHOICES.get(name)
        if choices is not None and value not in choices:
            raise SettingsError(variable, f"{value!r} is not one of {', '.join(sorted(choices))}")
        is_url = name.endswith(("_url", "_endpoint")) and name not in NOT_HTTP_URLS
        if is_url and (value or not empty_default):
            check_http_url(variable, value)
    if name == "database_url":
        check_database_url(variable, str(value))


def _check_type(variable: str, kind: str, value: object) -> None:
    expected: tuple[type, ...] = {
        "bool": (bool,),
        "int": (int,),
        "float": (int, float),
        "str": (str,),
        "tuple[str, ...]": (tuple,),
    }.get(kind, (object,))
    wrong = not isinstance(value, expected) or (kind != "bool" and isinstance(value, bool))
    if kind == "tuple[str, ...]" and not wrong:
        assert isinstance(value, tuple)
        wrong = not all(isinstance(part, str) for part in value)
    if wrong:
        raise SettingsError(variable, f"{value!r} is not {SHAPES.get(kind, kind)}")


def _check_range(name: str, variable: str, value: float) -> None:
    low, high = LIMITS.get(name, (0, None))
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingsError(variable, f"{value!r} is not a number")
    if low is not None and value < low:
        raise SettingsError(variable, f"{value!r} is below {low:g}, the least it may be")
    if high is not None and value > high:
        raise SettingsError(variable, f"{value!r} is above {high:g}, the most it may be")


def check_http_url(variable: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(variable, f"{value!r} is not an http:// or https:// URL with a host")


def check_database_url(variable: str, value: str) -> None:
    try:
        url = make_url(value)
    except ArgumentError:
        raise SettingsError(
            variable, f"{value!r} is not a database URL (sqlite:///path, postgresql://...)"
        ) from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise SettingsError(variable, f"{url.drivername!r}: only sqlite and postgresql are run")
