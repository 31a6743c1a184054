"""The channel-neutral order every intake path produces, and the error for a payload we refuse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backend.orders.lifecycle import OrderStatus
from backend.orders.models import PaymentMethod, SalesChannel


class PayloadInvalid(ValueError):
    """A channel payload misses a field or carries garbage in it; nothing was mapped.

    `field` is the canonical name ("lines[1].quantity"), `reason` a stable code ("missing",
    "too_many_decimals", "unknown_status"), `path` where in the payload it was looked for.
    """

    def __init__(self, field: str, reason: str, path: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" + (f" (at {path})" if path else ""))
        self.field = field
        self.reason = reason
        self.path = path


@dataclass(frozen=True)
class CanonicalLine:
    channel_sku: str
    name: str
    quantity: int
    unit_price_fen: int
    # The channel's own line id (Taobao oid): after-sales and partial refunds name lines by it.
    channel_line_id: str | None = None
    # What the buyer paid for the whole line after discounts, when the channel says.
    paid_fen: int | None = None


@dataclass(frozen=True)
class CanonicalAddress:
    """Field for field what service.NewAddress takes: NewAddress(**address.as_dict())."""

    recipient_name: str
    phone: str
    province: str
    city: str
    district: str
    street: str
    postal_code: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "recipient_name": self.recipient_name,
            "phone": self.phone,
            "province": self.province,
            "city": self.city,
            "district": self.district,
            "street": self.street,
            "postal_code": self.postal_code,
        }


@dataclass(frozen=True)
class CanonicalParcel:
    """A parcel the platform or a 3PL already shipped, as the channel's order update tells it."""

    # Our (Kuaidi100) carrier code; None when the channel's carrier is not in our table, and
    # the parcel is then only noted, never recorded under a guessed carrier.
    carrier_code: str | None
    channel_carrier: str  # the channel's own code or name, as sent
    tracking_no: str
    # (channel SKU, units) the parcel carries; empty: everything not yet in a parcel.
    lines: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class CanonicalOrder:
    channel: SalesChannel
    channel_order_no: str
    status: OrderStatus
    # The channel's literal status, kept because our lifecycle is coarser than theirs.
    raw_status: str
    buyer_name: str
    buyer_phone: str
    address: CanonicalAddress
    lines: tuple[CanonicalLine, ...]
    total_fen: int
    placed_at: datetime | None
    paid_at: datetime | None
    # The channel's own modification time: the version that orders updates to one order.
    updated_at: datetime | None
    payment_method: PaymentMethod | None = None
    # Stable codes for a human to look at ("test_order", "recipient_masked", ...), sorted.
    risk_hints: tuple[str, ...] = ()
    parcels: tuple[CanonicalParcel, ...] = ()


def supersedes(incoming: CanonicalOrder, stored_updated_at: datetime | None) -> bool:
    """Whether `incoming` may overwrite what is stored for the same channel order.

    Only a strictly newer channel version wins, so a late or re-sent webhook (Shopify and TOP
    retry, and deliver out of order) never regresses a newer state. An equal version is a
    replay and changes nothing. An incoming order without a version only fills a blank.
    """
    if stored_updated_at is None:
        return True
    if incoming.updated_at is None:
        return False
    return incoming.updated_at > stored_updated_at
