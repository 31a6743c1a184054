"""Operations: working-hour SLA clocks, the red queue by team, quiet channels."""

from datetime import UTC, datetime, timedelta

import pytest

from backend.operations import working_time_between


def shanghai(day, hour, minute=0):
    return (
        datetime(2026, 11, day, hour - 8, minute, tzinfo=UTC)
        if hour >= 8
        else datetime(2026, 11, day - 1, hour + 16, minute, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (shanghai(23, 10), shanghai(23, 10, 20), timedelta(minutes=20)),
        (shanghai(23, 17, 50), shanghai(24, 9, 10), timedelta(minutes=20)),
        (shanghai(23, 19), shanghai(23, 23), timedelta(0)),
        (shanghai(23, 8), shanghai(23, 10), timedelta(hours=1)),
        (shanghai(23, 9), shanghai(25, 9), timedelta(hours=18)),
    ],
)
def test_slas_count_only_working_hours(start, end, expected):
    assert working_time_between(start, end) == expected
