"""The order state machine as a table: pure functions, no I/O."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PICKING = "picking"
    PACKED = "packed"
    PARTIALLY_SHIPPED = "partially_shipped"  # 部分发货: some parcels are out, not all
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    AFTER_SALE = "after_sale"  # a return or refund is open on a delivered order
    REFUNDED = "refunded"  # closed with everything paid back
    CANCELLED = "cancelled"


class OrderAction(StrEnum):
    PAY = "pay"
    START_PICKING = "start_picking"
    PACK = "pack"
    SHIP_PART = "ship_part"  # a parcel left with some of the lines
    SHIP = "ship"  # the last lines left: everything is on its way
    DELIVER = "deliver"
    COMPLETE = "complete"
    OPEN_AFTER_SALE = "open_after_sale"
    CLOSE_AFTER_SALE = "close_after_sale"
    REFUND_IN_FULL = "refund_in_full"
    # Every parcel came back from the road (拦截退回 / 拒收) and everything was paid back.
    RETURN_TO_SENDER = "return_to_sender"
    CANCEL = "cancel"
    # After the pack scan, before any carrier has the parcel: the waybill is voided first.
    CANCEL_AFTER_PACK = "cancel_after_pack"


S, A = OrderStatus, OrderAction

TRANSITIONS: MappingProxyType[OrderStatus, MappingProxyType[OrderAction, OrderStatus]] = (
    MappingProxyType(
        {
            S.PENDING_PAYMENT: MappingProxyType({A.PAY: S.PAID, A.CANCEL: S.CANCELLED}),
            S.PAID: MappingProxyType(
                {A.START_PICKING: S.PICKING, A.PACK: S.PACKED, A.CANCEL: S.CANCELLED}
            ),
            S.PICKING: MappingProxyType({A.PACK: S.PACKED, A.CANCEL: S.CANCELLED}),
            # Once packed the parcel is physically in the flow: a plain cancel is not enough;
            # CANCEL_AFTER_PACK is taken only once its waybills are voided (cancellation.py).
            S.PACKED: MappingProxyType(
                {
                    A.SHIP_PART: S.PARTIALLY_SHIPPED,
                    A.SHIP: S.SHIPPED,
                    A.CANCEL_AFTER_PACK: S.CANCELLED,
                }
            ),
            # The order follows its parcels: it is shipped when the last line has left.
            S.PARTIALLY_SHIPPED: MappingProxyType({A.SHIP: S.SHIPPED}),
            S.SHIPPED: MappingProxyType({A.DELIVER: S.DELIVERED, A.RETURN_TO_SENDER: S.REFUNDED}),
            S.DELIVERED: MappingProxyType(
                {A.COMPLETE: S.COMPLETED, A.OPEN_AFTER_SALE: S.AFTER_SALE}
            ),
            # After-sale on completed orders is still possible; whether the window
            # is open is a policy question answered elsewhere, not a status one.
            S.COMPLETED: MappingProxyType({A.OPEN_AFTER_SALE: S.AFTER_SALE}),
            S.AFTER_SALE: MappingProxyType(
                {A.CLOSE_AFTER_SALE: S.COMPLETED, A.REFUND_IN_FULL: S.REFUNDED}
            ),
            S.REFUNDED: MappingProxyType({}),
            S.CANCELLED: MappingProxyType({}),
        }
    )
)

TERMINAL_STATUSES = frozenset(status for status, moves in TRANSITIONS.items() if not moves)


class TransitionNotAllowed(Exception):
    """The action is not possible from the order's current status."""

    def __init__(self, status: OrderStatus, action: OrderAction) -> None:
        super().__init__(f"{action} is not allowed when the order is {status}")
        self.status = status
        self.action = action


def allowed_actions(status: OrderStatus) -> frozenset[OrderAction]:
    return frozenset(TRANSITIONS[status])


def can(status: OrderStatus, action: OrderAction) -> bool:
    return action in TRANSITIONS[status]


def next_status(status: OrderStatus, action: OrderAction) -> OrderStatus:
    try:
        return TRANSITIONS[status][action]
    except KeyError:
        raise TransitionNotAllowed(status, action) from None


def is_terminal(status: OrderStatus) -> bool:
    return status in TERMINAL_STATUSES
