"""The one clock: UTC instants, China calendar days and wall-clock text."""

from datetime import UTC, date, datetime

import pytest

from backend.clock import (
    from_shanghai_wall_clock,
    shanghai_date,
    start_of_shanghai_day,
    to_shanghai_text,
)


def test_a_late_evening_in_utc_is_the_next_day_in_china():
    assert shanghai_date(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == date(2026, 12, 1)
    assert shanghai_date(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == date(2026, 11, 30)


def test_provider_wall_clock_text_round_trips_through_utc():
    instant = from_shanghai_wall_clock(datetime(2026, 12, 1, 8, 0, 5))
    assert instant == datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC)
    assert to_shanghai_text(instant) == "2026-12-01 08:00:05"


def test_a_provider_time_that_already_has_a_zone_is_not_reinterpreted():
    with pytest.raises(ValueError, match="naive"):
        from_shanghai_wall_clock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))


def test_midnight_in_china_is_sixteen_hours_utc_the_day_before():
    assert start_of_shanghai_day(date(2026, 12, 1)).astimezone(UTC) == datetime(
        2026, 11, 30, 16, 0, tzinfo=UTC
    )
