"""The customer cancel as a table: pure functions, no I/O.

A cancel is one row per order. Its status follows what a cancel can still owe the
customer once the order itself is CANCELLED: the money, refunded through the original
gateway. (After the pack scan the units sealed in a parcel are back on sale only when the
warehouse has opened it: a one-step task, `OrderCancellation.unpacked_at`, not a state.)
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class CancelPath(StrEnum):
    """How a cancel is carried out, decided from the order (see cancellation.decide_path)."""

    UNPAID = "unpaid"  # 待付款: cancelled at once, the reservation released
    PAID = "paid"  # paid, not packed: cancelled at once, released, refunded in full
    PACKED = "packed"  # packed, not collected: the waybill voided, then unpacked, refunded
    IN_TRANSIT = "in_transit"  # a carrier has a parcel: an intercept, then the refund
    PLATFORM = "platform"  # the marketplace owns its after-sale: cancel there, not here
    NONE = "none"  # delivered, completed, closed: nothing to cancel


class CancelStatus(StrEnum):
    REFUNDING = "refunding"  # the refund row and its job exist; the gateway has not settled
    REFUND_FAILED = "refund_failed"  # the gateway refused or closed it: finance acts
    DONE = "done"  # nothing more is owed: no money (unpaid) or money back, units on sale


class CancelAction(StrEnum):
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    RETRY_REFUND = "retry_refund"  # finance sends it again (a new refund row, a new key)


S, A = CancelStatus, CancelAction

TRANSITIONS: MappingProxyType[CancelStatus, MappingProxyType[CancelAction, CancelStatus]] = (
    MappingProxyType(
        {
            S.REFUNDING: MappingProxyType(
                {A.REFUND_SUCCEEDED: S.DONE, A.REFUND_FAILED: S.REFUND_FAILED}
            ),
            S.REFUND_FAILED: MappingProxyType({A.RETRY_REFUND: S.REFUNDING}),
            S.DONE: MappingProxyType({}),
        }
    )
)


class CancelTransitionNotAllowed(Exception):
    def __init__(self, status: CancelStatus, action: CancelAction) -> None:
        super().__init__(f"{action} is not allowed when the cancel is {status}")
        self.status, self.action = status, action


def next_status(status: CancelStatus, action: CancelAction) -> CancelStatus:
    try:
        return TRANSITIONS[status][action]
    except KeyError:
        raise CancelTransitionNotAllowed(status, action) from None
