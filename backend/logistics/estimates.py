"""Delivery estimates from the transit times of delivered parcels on the same lane."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.clock import SHANGHAI
from backend.logistics.models import Shipment
from backend.logistics.status import TrackingStatus

MIN_SAMPLES = 5
HISTORY = timedelta(days=90)
# Far-west and sparsely served provinces take longer from the eastern warehouses.
REMOTE_PROVINCES = frozenset(
    {
        "新疆维吾尔自治区",
        "西藏自治区",
        "青海省",
        "甘肃省",
        "宁夏回族自治区",
        "内蒙古自治区",
        "海南省",
    }
)


@dataclass(frozen=True)
class Estimate:
    earliest: date
    latest: date
    samples: int  # 0 means the default for the lane was used


def default_transit_days(origin: str | None, destination: str | None) -> tuple[int, int]:
    """What Chinese express carriers typically promise when our own history is thin."""
    if origin and origin == destination:
        return 1, 2
    if destination in REMOTE_PROVINCES:
        return 4, 7
    return 2, 4


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = (len(sorted_values) - 1) * fraction
    low, high = int(index), min(int(index) + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (index - low)


def estimate_from_history(
    shipped_at: datetime,
    transit_hours: list[float],
    origin: str | None,
    destination: str | None,
) -> Estimate:
    """p20–p80 of past transit times when there are enough of them, else the lane default."""
    local_start = shipped_at.astimezone(SHANGHAI)
    if len(transit_hours) >= MIN_SAMPLES:
        ordered = sorted(transit_hours)
        early = local_start + timedelta(hours=percentile(ordered, 0.2))
        late = local_start + timedelta(hours=percentile(ordered, 0.8))
        return Estimate(early.date(), max(late.date(), early.date()), len(ordered))
    low, high = default_transit_days(origin, destination)
    return Estimate(
        (local_start + timedelta(days=low)).date(),
        (local_start + timedelta(days=high)).date(),
        0,
    )


def lane_transit_hours(
    session: Session,
    carrier_code: str,
    origin: str | None,
    destination: str | None,
    now: datetime,
) -> list[float]:
    """Label-to-delivery hours of this lane's recent parcels, newest first."""
    rows = session.execute(
        select(Shipment.label_created_at, Shipment.delivered_at)
        .where(
            Shipment.carrier_code == carrier_code,
            Shipment.origin_province == origin,
            Shipment.destination_province == destination,
            Shipment.status == TrackingStatus.DELIVERED,
            Shipment.delivered_at > now - HISTORY,
        )
        .order_by(Shipment.delivered_at.desc())
        .limit(500)
    ).all()
    return [
        (delivered - created).total_seconds() / 3600
        for created, delivered in rows
        if delivered is not None and delivered > created
    ]
