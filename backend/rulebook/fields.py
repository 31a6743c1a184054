"""Which rules staff may tune, in what unit, within what bounds: pure, no I/O.

Each field names the rule set it belongs to (the `section` of the app's Rules: refunds,
addresses, intake, profit) and the attribute it sets there. Values are kept as staff type
them (yuan, hours, "taobao=5,jd=8.5"), so a version reads as what was entered; `parse`
turns one into what the rule set holds (fen, a timedelta, basis points), and refuses what
is out of bounds with a message code the portal translates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import time, timedelta
from typing import Any

from backend.notifications.models import NotificationEvent
from backend.operations import SLA
from backend.profit import parse_commissions

SLA_STATES = frozenset(str(status) for status in SLA)

YUAN = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,2}))?")


class RuleValueInvalid(ValueError):
    """A value staff typed can't be used; `code` says why, `field` which one."""

    def __init__(self, field: str, code: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field, self.code = field, code


@dataclass(frozen=True)
class RuleField:
    key: str  # "refunds.max_auto_amount_fen"
    unit: str  # yuan | hours | days | count | commissions
    low: int = 0
    high: int = 10**9

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.key.split(".", 1)[1]

    def parse(self, text: str) -> Any:
        text = text.strip()
        if self.unit == "text":
            if len(text) > self.high:
                raise RuleValueInvalid(self.key, "too_long")
            if len(text) < self.low:
                raise RuleValueInvalid(self.key, "required")
            return text
        text = text.replace("，", ",").replace("＝", "=")  # typed with a Chinese input method
        if self.unit == "time_range":
            return _time_range(self.key, text)
        if self.unit == "hour_range":
            return _hour_range(self.key, text)
        if self.unit in ("templates", "wechat_templates"):
            text = text.replace("，", ",").replace("＝", "=")
            return _template_codes(self.key, text, self.unit)
        if self.unit == "sla":
            return _sla_minutes(self.key, text.replace("，", ",").replace("＝", "="))
        if self.unit == "commissions":
            try:
                rates = parse_commissions(text)
            except ValueError:
                raise RuleValueInvalid(self.key, "commissions") from None
            if any(not 0 <= bp <= 10_000 for bp in rates.values()):
                raise RuleValueInvalid(self.key, "commissions")
            return rates
        if self.unit == "yuan":
            match = YUAN.fullmatch(text)
            if match is None:
                raise RuleValueInvalid(self.key, "yuan")
            number = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
            bounds = (self.low * 100, self.high * 100)
        else:
            if not text.isdigit() or len(text) > 6:
                raise RuleValueInvalid(self.key, "whole_number")
            number, bounds = int(text), (self.low, self.high)
        if not bounds[0] <= number <= bounds[1]:
            raise RuleValueInvalid(self.key, "out_of_range")
        return timedelta(hours=number) if self.unit == "hours" else number

    def show(self, value: Any) -> str:
        """What the rule set holds, as staff would type it: the seed's values, for version 1."""
        if self.unit == "text":
            return str(value)
        if self.unit == "time_range":
            return f"{value[0]:%H:%M}-{value[1]:%H:%M}"
        if self.unit == "hour_range":
            return f"{value[0]}-{value[1]}"
        if self.unit in ("templates", "wechat_templates"):
            return ",".join(f"{event}={code}" for event, code in sorted(value.items()))
        if self.unit == "sla":
            return ",".join(f"{state}={minutes}" for state, minutes in sorted(value.items()))
        if self.unit == "commissions":
            return ",".join(
                f"{channel}={bp // 100}" + (f".{bp % 100:02d}".rstrip("0") if bp % 100 else "")
                for channel, bp in sorted(value.items())
            )
        if self.unit == "yuan":
            yuan, fen = divmod(int(value), 100)
            return f"{yuan}.{fen:02d}" if fen else str(yuan)
        if self.unit == "hours":
            return str(int(value.total_seconds() // 3600))
        return str(value)


TIME_RANGE = re.compile(
    r"([01][0-9]|2[0-3]):([0-5][0-9])\s*[-–~至]\s*([01][0-9]|2[0-3]):([0-5][0-9])"
)


def _time_range(key: str, text: str) -> tuple[time, time]:
    """ "22:00-08:00": no messages from 22:00 to 08:00 (Shanghai); equal ends: never quiet."""
    match = TIME_RANGE.fullmatch(text.replace("：", ":"))
    if match is None:
        raise RuleValueInvalid(key, "time_range")
    hour1, minute1, hour2, minute2 = (int(part) for part in match.groups())
    return time(hour1, minute1), time(hour2, minute2)


TEMPLATE_CODE = re.compile(r"[A-Za-z0-9_]{1,40}")
WECHAT_TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
TEMPLATE_EVENTS = frozenset({*(str(event) for event in NotificationEvent), "verification_code"})


def _template_codes(key: str, text: str, unit: str = "templates") -> dict[str, str]:
    """ "shipped=SMS_123,delivered=SMS_456": the provider's template code for each message."""
    shape = WECHAT_TEMPLATE_ID if unit == "wechat_templates" else TEMPLATE_CODE
    codes: dict[str, str] = {}
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        event, sep, code = (piece.strip() for piece in part.partition("="))
        if not sep or event not in TEMPLATE_EVENTS or not shape.fullmatch(code):
            raise RuleValueInvalid(key, "templates")
        codes[event] = code
    return codes


def _hour_range(key: str, text: str) -> tuple[int, int]:
    """ "9-18": the team works from 09:00 to 18:00 Shanghai time, every day."""
    start, sep, end = text.replace("：", ":").replace(":00", "").partition("-")
    if not (sep and start.strip().isdigit() and end.strip().isdigit()):
        raise RuleValueInvalid(key, "hour_range")
    first, last = int(start), int(end)
    if not 0 <= first < last <= 24:
        raise RuleValueInvalid(key, "hour_range")
    return first, last


def _sla_minutes(key: str, text: str) -> dict[str, int]:
    """ "paid=15,picking=120": working minutes per order state; states not named keep theirs."""
    limits: dict[str, int] = {}
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        state, sep, minutes = part.partition("=")
        state, minutes = state.strip(), minutes.strip()
        if not sep or state not in SLA_STATES or not minutes.isdigit() or len(minutes) > 5:
            raise RuleValueInvalid(key, "sla")
        if not 1 <= int(minutes) <= 20_160:  # two working weeks at most
            raise RuleValueInvalid(key, "sla")
        limits[state] = int(minutes)
    return limits


FIELDS: tuple[RuleField, ...] = (
    RuleField("refunds.max_auto_amount_fen", "yuan", 0, 100_000),
    RuleField("refunds.return_window_days", "days", 1, 30),
    RuleField("refunds.max_recent_refunds", "count", 0, 100),
    RuleField("addresses.free_edit_window", "hours", 0, 72),
    RuleField("addresses.max_customer_edits", "count", 0, 20),
    RuleField("addresses.auto_approve_after", "hours", 1, 168),
    RuleField("intake.high_value_fen", "yuan", 1, 10_000_000),
    RuleField("profit.shipping_fen_per_parcel", "yuan", 0, 1_000),
    RuleField("profit.commission_bp", "commissions"),
    RuleField("profit.loss_below_fen", "yuan", 0, 10_000),
    RuleField("refunds.return_address", "text", 0, 200),
    RuleField("notices.quiet_hours", "time_range"),
    RuleField("operations.sla_minutes", "sla"),
    RuleField("operations.working_hours", "hour_range"),
    RuleField("notices.sms_templates", "templates"),
    RuleField("notices.wechat_templates", "wechat_templates"),
    RuleField("notices.miniprogram_templates", "wechat_templates"),
)
BY_KEY: Mapping[str, RuleField] = {field.key: field for field in FIELDS}


def seed_values(rules: Any) -> dict[str, str]:
    """Version 1: what the environment variables (the app's Rules) say today."""
    return {
        field.key: field.show(getattr(getattr(rules, field.section), field.attribute))
        for field in FIELDS
    }


def validate(values: Mapping[str, str]) -> dict[str, Any]:
    """Every field parsed; all the problems at once (field -> code), so a form shows them all."""
    parsed: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for field in FIELDS:
        try:
            parsed[field.key] = field.parse(values.get(field.key, ""))
        except RuleValueInvalid as invalid:
            problems[field.key] = invalid.code
    if problems:
        raise RulesInvalid(problems)
    return parsed


class RulesInvalid(ValueError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def apply(rules: Any, values: Mapping[str, str], version: int) -> Any:
    """The app's Rules with a version's values in place; each section rebuilt once.

    A stored value that no longer parses (a bound tightened in a later release) keeps the
    seed's value for that field rather than stopping every page.
    """
    sections: dict[str, dict[str, Any]] = {}
    for field in FIELDS:
        try:
            value = field.parse(str(values.get(field.key, "")))
        except RuleValueInvalid:
            continue
        sections.setdefault(field.section, {})[field.attribute] = value
    changed = {
        name: replace(getattr(rules, name), **attributes) for name, attributes in sections.items()
    }
    changed["refunds"] = replace(changed.get("refunds", rules.refunds), rules_version=version)
    return replace(rules, **changed)
