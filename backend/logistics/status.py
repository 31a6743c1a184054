"""The normalized tracking status every carrier's codes are mapped onto."""

from __future__ import annotations

from enum import StrEnum


class TrackingStatus(StrEnum):
    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    CUSTOMS = "customs"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"  # 驿站 / 快递柜
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"
    RETURNING = "returning"
    RETURNED = "returned"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


TERMINAL_TRACKING_STATUSES = frozenset(
    {TrackingStatus.DELIVERED, TrackingStatus.RETURNED, TrackingStatus.CANCELLED}
)

# Once delivered, only a return may follow; anything else is a late or stray event.
AFTER_DELIVERY_ALLOWED = frozenset({TrackingStatus.RETURNING, TrackingStatus.RETURNED})
