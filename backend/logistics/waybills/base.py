"""What every waybill booker shares: the request, the booked waybill, its label, the protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from backend.logistics.carriers.base import CarrierRejected, CarrierUnavailable

__all__ = [
    "BookedWaybill",
    "CarrierRejected",
    "CarrierUnavailable",
    "Label",
    "Party",
    "WaybillBooker",
    "WaybillItem",
    "WaybillNotConfigured",
    "WaybillRef",
    "WaybillRequest",
]


class WaybillNotConfigured(LookupError):
    """No booker is set up for this carrier (no route in the settings, or no credentials)."""

    def __init__(self, carrier_code: str, reason: str) -> None:
        super().__init__(f"{carrier_code}: {reason}")
        self.carrier_code = carrier_code
        self.reason = reason


@dataclass(frozen=True)
class Party:
    """A sender (the warehouse) or a recipient, as the carrier prints it on the label."""

    name: str
    phone: str
    province: str
    city: str
    district: str
    street: str
    company: str = ""

    @property
    def full_address(self) -> str:
        """Province to house number in one line, the way Chinese labels print it."""
        return f"{self.province}{self.city}{self.district}{self.street}"


@dataclass(frozen=True)
class WaybillItem:
    name: str
    quantity: int


@dataclass(frozen=True)
class WaybillRequest:
    """One parcel to book. `order_key` is the idempotency key: order public_no plus parcel
    number ("P20261201001-1"); booking the same key again must give the same waybill."""

    order_key: str
    carrier_code: str  # Kuaidi100 company codes: "shunfeng", "zhongtong", ...
    sender: Party
    recipient: Party
    items: tuple[WaybillItem, ...]
    weight_grams: int | None = None
    remark: str = ""

    def __post_init__(self) -> None:
        if not self.order_key.strip():
            raise ValueError("a waybill request needs an order key")
        if not self.items or any(item.quantity < 1 for item in self.items):
            raise ValueError("a waybill request needs items with positive quantities")
        if self.weight_grams is not None and self.weight_grams <= 0:
            raise ValueError("weight must be positive grams")

    @property
    def total_quantity(self) -> int:
        return sum(item.quantity for item in self.items)

    @property
    def cargo_name(self) -> str:
        """What the label calls the goods: the first item, "等N件" when there are more."""
        first = self.items[0].name
        return first if len(self.items) == 1 else f"{first}等{len(self.items)}种"


@dataclass(frozen=True)
class Label:
    """However the carrier hands over the label: PDF bytes, a link to an image/PDF, or a
    print task already sent to a cloud printer (`printed`)."""

    pdf: bytes | None = None
    url: str | None = None
    print_task_id: str | None = None
    printed: bool = False


@dataclass(frozen=True)
class WaybillRef:
    """What is enough to cancel a waybill later; store these four with the parcel."""

    carrier_code: str
    tracking_no: str
    order_key: str
    provider_order_id: str | None = None  # Kuaidi100 `kdComOrderNum`, needed to cancel


@dataclass(frozen=True)
class BookedWaybill:
    carrier_code: str
    tracking_no: str
    order_key: str
    label: Label
    provider_order_id: str | None = None
    child_numbers: tuple[str, ...] = field(default=())

    @property
    def printed(self) -> bool:
        return self.label.printed

    @property
    def ref(self) -> WaybillRef:
        return WaybillRef(
            self.carrier_code, self.tracking_no, self.order_key, self.provider_order_id
        )


class WaybillBooker(Protocol):
    """Books, cancels and reprints waybills with one provider.

    Every method raises CarrierUnavailable (worth retrying: transport, 5xx, busy) or
    CarrierRejected (terminal, with the provider's code and message: no 面单余额, bad
    address, unknown waybill, already collected).
    """

    provider: str

    def book(self, request: WaybillRequest) -> BookedWaybill:
        """A waybill number and its label; the same order key twice gives the same one."""
        ...

    def cancel(self, waybill: BookedWaybill | WaybillRef, reason: str) -> None:
        """Give the number back before pickup; cancelling a cancelled waybill is fine."""
        ...

    def reprint(self, waybill: BookedWaybill) -> Label:
        """The label again (a fresh download or a new cloud print task)."""
        ...
