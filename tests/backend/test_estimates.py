"""Delivery estimates: the lane's own history when there is enough, a default when not."""

from datetime import UTC, date, datetime

import pytest

from backend.logistics.estimates import default_transit_days, estimate_from_history, percentile

SHIPPED = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.mark.parametrize(
    ("origin", "destination", "days"),
    [
        ("浙江省", "浙江省", (1, 2)),
        ("浙江省", "北京市", (2, 4)),
        ("浙江省", "新疆维吾尔自治区", (4, 7)),
        (None, None, (2, 4)),
    ],
)
def test_thin_history_falls_back_to_the_lane_default(origin, destination, days):
    assert default_transit_days(origin, destination) == days
    estimate = estimate_from_history(SHIPPED, [30.0] * 4, origin, destination)
    assert estimate.samples == 0
    assert (estimate.earliest - SHIPPED.date()).days == days[0]
    assert (estimate.latest - SHIPPED.date()).days == days[1]


def test_enough_history_gives_the_middle_of_past_transit_times():
    hours = [20, 30, 40, 50, 60, 70, 80, 90, 100, 110]
    estimate = estimate_from_history(SHIPPED, hours, "浙江省", "北京市")
    assert estimate.samples == 10
    assert estimate.earliest == date(2026, 11, 22)  # p20 = 38 h: 10:00 on the 20th + 38 h
    assert estimate.latest == date(2026, 11, 24)  # 10:00 + 92h


def test_percentile_interpolates():
    assert percentile([10.0, 20.0], 0.5) == 15.0
    assert percentile([5.0], 0.8) == 5.0
