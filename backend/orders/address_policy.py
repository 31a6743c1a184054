"""When a customer may change the shipping address, as pure rules over an order's facts.

Free self-service for a while after payment; then a request staff approve; never after
the warehouse pack scan, when only a carrier intercept (拦截改派) is left; never for
risky orders; at most a few customer edits per order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from backend.orders.lifecycle import OrderStatus


class EditMode(StrEnum):
    FREE = "free"  # the customer changes it now (after a one-time code)
    REQUEST = "request"  # the change waits for staff approval
    LOCKED = "locked"  # packed: the address is frozen; a carrier intercept may be asked for
    CLOSED = "closed"  # no change of any kind (cancelled, delivered, risky, limit reached)


class ClosedBecause(StrEnum):
    NOT_OPEN = "not_open"  # cancelled, refunded, delivered ...
    RISKY = "risky"
    EDIT_LIMIT = "edit_limit"
    REQUEST_PENDING = "request_pending"


@dataclass(frozen=True)
class AddressRules:
    free_edit_window: timedelta = timedelta(hours=2)
    max_customer_edits: int = 3
    # A request nobody answers is approved after this long, so the customer is not stuck.
    auto_approve_after: timedelta = timedelta(hours=4)
    # One-time codes texted per order per hour: caps SMS cost and phone-number harassment.
    max_codes_per_hour: int = 5


@dataclass(frozen=True)
class AddressFacts:
    status: OrderStatus
    paid_at: datetime | None
    address_locked_at: datetime | None
    risk_flag: bool
    customer_edits: int
    request_pending: bool
    # The lifecycle's PACK time: an order may be packed without a scan (a channel, an import).
    packed_at: datetime | None = None


@dataclass(frozen=True)
class AddressDecision:
    mode: EditMode
    free_until: datetime | None = None
    # Since when the address is frozen: the pack scan, else the PACK transition; None if
    # neither time is known, and the page then says only that the order is packed.
    locked_at: datetime | None = None
    closed_because: ClosedBecause | None = None
    can_request_intercept: bool = False

    @property
    def can_edit(self) -> bool:
        return self.mode in (EditMode.FREE, EditMode.REQUEST)

    def remaining(self, now: datetime) -> timedelta | None:
        return max(self.free_until - now, timedelta(0)) if self.free_until else None


EDITABLE_STATUSES = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.PICKING})
# After the pack scan the parcel may still be redirected by the carrier until it arrives.
INTERCEPTABLE_STATUSES = frozenset(
    {OrderStatus.PACKED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED}
)


def decide(facts: AddressFacts, now: datetime, rules: AddressRules) -> AddressDecision:
    if facts.address_locked_at is not None or facts.status not in EDITABLE_STATUSES:
        if facts.status in INTERCEPTABLE_STATUSES:
            # One redirect request at a time: a second would only race the first at the carrier.
            return AddressDecision(
                EditMode.LOCKED,
                locked_at=facts.address_locked_at or facts.packed_at,
                closed_because=ClosedBecause.REQUEST_PENDING if facts.request_pending else None,
                can_request_intercept=not facts.risk_flag and not facts.request_pending,
            )
        return AddressDecision(EditMode.CLOSED, closed_because=ClosedBecause.NOT_OPEN)
    if facts.risk_flag:
        return AddressDecision(EditMode.CLOSED, closed_because=ClosedBecause.RISKY)
    if facts.request_pending:
        return AddressDecision(EditMode.CLOSED, closed_because=ClosedBecause.REQUEST_PENDING)
    if facts.customer_edits >= rules.max_customer_edits:
        return AddressDecision(EditMode.CLOSED, closed_because=ClosedBecause.EDIT_LIMIT)
    if facts.paid_at is None:
        return AddressDecision(EditMode.FREE)  # unpaid: the window has not started
    free_until = facts.paid_at + rules.free_edit_window
    if now < free_until:
        return AddressDecision(EditMode.FREE, free_until=free_until)
    return AddressDecision(EditMode.REQUEST)
