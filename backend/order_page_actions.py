"""What the customer may do on their order page besides the address: cancel, remind, write,
confirm, return.

Decided here from the tracking head's row (no query of its own), with the same rules the
verbs check again on POST: backend/support/service.py for 催发货 and messages,
backend/orders/completion.py for 确认收货, RefundRules for the return window,
backend/refunds/cancellation.py for 取消订单.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from backend.clock import shanghai_date
from backend.exchanges.service import EXCHANGEABLE
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import PaymentMethod, SalesChannel
from backend.refunds.cancel_lifecycle import CancelPath, CancelStatus
from backend.refunds.cancellation import SELF_SERVICE_PATHS, decide_path
from backend.refunds.in_transit import ON_THE_ROAD_ORDERS
from backend.refunds.rules import RefundRules, days_since_delivery
from backend.support.service import RequestView, can_leave_message, can_send_reminder, ship_by
from backend.tracking_page import TrackingHead


@dataclass(frozen=True)
class ShippingPromise:
    """催发货: when the order should have left, and whether the customer may remind today."""

    ship_by: datetime
    overdue: bool
    can_remind: bool
    reminded_today: bool


@dataclass(frozen=True)
class SupportPanel:
    """What the customer may ask of support on this order, and what they asked already."""

    public_no: str
    promise: ShippingPromise | None  # None once nothing is waiting to ship
    requests: tuple[RequestView, ...]
    can_contact: bool  # False while too many messages wait for an answer


@dataclass(frozen=True)
class ReceiptDecision:
    """确认收货 is offered on a delivered order; otherwise it completes on auto_complete_at."""

    can_confirm: bool
    auto_complete_at: datetime | None


@dataclass(frozen=True)
class ReturnWindow:
    """The return window in Shanghai calendar days from delivery (RefundRules)."""

    last_day: date
    days_left: int  # 0 on the last day


def shipping_promise(
    head: TrackingHead, now: datetime, promise: timedelta
) -> ShippingPromise | None:
    due = ship_by(OrderStatus(head.row.status), head.row.paid_at, promise)
    if due is None:
        return None
    last_day = head.row.last_reminder_day
    return ShippingPromise(
        ship_by=due,
        overdue=now >= due,
        can_remind=can_send_reminder(due, last_day, now),
        reminded_today=last_day is not None and last_day == shanghai_date(now),
    )


def support_panel(
    head: TrackingHead, requests: tuple[RequestView, ...], now: datetime, promise: timedelta
) -> SupportPanel:
    return SupportPanel(
        public_no=head.row.public_no,
        promise=shipping_promise(head, now, promise),
        requests=requests,
        can_contact=can_leave_message(int(head.row.open_messages or 0)),
    )


def receipt_decision(head: TrackingHead, auto_complete_days: int) -> ReceiptDecision:
    delivered = OrderStatus(head.row.status) == OrderStatus.DELIVERED
    at = head.row.delivered_at
    auto = at + timedelta(days=auto_complete_days) if delivered and at is not None else None
    return ReceiptDecision(can_confirm=delivered, auto_complete_at=auto)


def return_window(
    delivered_at: datetime | None, now: datetime, rules: RefundRules
) -> ReturnWindow | None:
    """None before delivery and after the window; a return is still possible then, reviewed."""
    if delivered_at is None:
        return None
    # A delivery stamped slightly ahead (carrier clock skew) counts as today, as in the rules.
    days_left = rules.return_window_days - max(days_since_delivery(delivered_at, now), 0)
    if days_left < 0:
        return None
    last_day = shanghai_date(delivered_at) + timedelta(days=rules.return_window_days)
    return ReturnWindow(last_day, days_left)


@dataclass(frozen=True)
class CancelOffer:
    """取消订单: what a cancel would do now, or how the one already made is going."""

    path: CancelPath  # NONE: nothing to offer; a made cancel keeps the path it took
    channel: SalesChannel  # PLATFORM: whose page to cancel on
    refund_fen: int  # made: what is refunded; offered: what was paid (less refunds, by the verb)
    made: bool
    status: CancelStatus | None  # the made cancel's progress

    @property
    def can_cancel(self) -> bool:
        return not self.made and self.path in SELF_SERVICE_PATHS


def cancel_offer(head: TrackingHead) -> CancelOffer:
    row = head.row
    if row.cancel_path is not None:
        return CancelOffer(
            CancelPath(row.cancel_path),
            SalesChannel(row.channel),
            int(row.cancel_refund_fen),
            made=True,
            status=CancelStatus(row.cancel_status),
        )
    method = PaymentMethod(row.payment_method) if row.payment_method else None
    path = decide_path(OrderStatus(row.status), method)
    paid = int(row.paid_fen or 0)
    return CancelOffer(path, SalesChannel(row.channel), paid, made=False, status=None)


def can_exchange(
    status: OrderStatus, delivered_at: datetime | None, now: datetime, rules: RefundRules
) -> bool:
    """换货 is offered on delivered orders within the return window (request_exchange checks
    again, and the exchange page lists only the variants that can be had)."""
    return status in EXCHANGEABLE and return_window(delivered_at, now, rules) is not None


def can_refund_in_transit(head: TrackingHead) -> bool:
    """仅退款 in transit is offered while parcels are on the road; the page says which."""
    return OrderStatus(head.row.status) in ON_THE_ROAD_ORDERS
