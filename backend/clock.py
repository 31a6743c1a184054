"""The one clock: instants are stored in UTC; days, hours and wall-clock text are China time.

Mainland China keeps one zone, UTC+8, with no daylight saving since 1991. Every China
time in the code goes through SHANGHAI here, so a carrier's "2026-11-30 18:05:00", a
return window counted in calendar days and a page's "18:05" all mean the same instant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def in_shanghai(moment: datetime) -> datetime:
    """The same instant on a Shanghai wall clock."""
    return moment.astimezone(SHANGHAI)


def shanghai_date(moment: datetime) -> date:
    """The calendar day it is in China at that instant (return windows, daily reports)."""
    return moment.astimezone(SHANGHAI).date()


def start_of_shanghai_day(day: date) -> datetime:
    """Midnight in China that day, as an aware instant."""
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def from_shanghai_wall_clock(local: datetime) -> datetime:
    """A naive time read off a Chinese provider's text ("yyyy-MM-dd HH:mm:ss"), as UTC."""
    if local.tzinfo is not None:
        raise ValueError("already has a zone; only naive provider times are China time")
    return local.replace(tzinfo=SHANGHAI).astimezone(UTC)


def to_shanghai_text(moment: datetime, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An instant as the wall-clock text Chinese providers expect."""
    return moment.astimezone(SHANGHAI).strftime(pattern)
