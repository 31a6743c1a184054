"""The return request's state machine as a table: pure functions, no I/O."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class ReturnStatus(StrEnum):
    IN_REVIEW = "in_review"  # waiting for staff (48-hour promise)
    APPROVED = "approved"  # auto or by staff; refund-only goes straight to refunding
    AWAITING_PARCEL = "awaiting_parcel"  # 退货退款: the customer sends the item back
    PARCEL_IN_TRANSIT = "parcel_in_transit"  # 退货寄回中
    RECEIVED = "received"  # 仓库已签收
    REFUNDING = "refunding"  # 退款处理中
    REFUNDED = "refunded"  # 退款成功
    REJECTED = "rejected"
    REFUND_FAILED = "refund_failed"  # the gateway refused for good: finance takes over


class ReturnAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    WAIT_FOR_PARCEL = "wait_for_parcel"
    PARCEL_SENT = "parcel_sent"
    PARCEL_RECEIVED = "parcel_received"
    START_REFUND = "start_refund"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"


S, A = ReturnStatus, ReturnAction

TRANSITIONS = MappingProxyType(
    {
        S.IN_REVIEW: MappingProxyType({A.APPROVE: S.APPROVED, A.REJECT: S.REJECTED}),
        S.APPROVED: MappingProxyType(
            {A.WAIT_FOR_PARCEL: S.AWAITING_PARCEL, A.START_REFUND: S.REFUNDING}
        ),
        S.AWAITING_PARCEL: MappingProxyType(
            {A.PARCEL_SENT: S.PARCEL_IN_TRANSIT, A.PARCEL_RECEIVED: S.RECEIVED}
        ),
        # 极速退款: a small auto-approved refund may be paid once the carrier has the parcel.
        S.PARCEL_IN_TRANSIT: MappingProxyType(
            {A.PARCEL_RECEIVED: S.RECEIVED, A.START_REFUND: S.REFUNDING}
        ),
        S.RECEIVED: MappingProxyType({A.START_REFUND: S.REFUNDING}),
        S.REFUNDING: MappingProxyType(
            {
                A.REFUND_SUCCEEDED: S.REFUNDED,
                A.REFUND_FAILED: S.REFUND_FAILED,
                A.PARCEL_RECEIVED: S.REFUNDING,
            }
        ),
        S.REFUNDED: MappingProxyType({A.PARCEL_RECEIVED: S.REFUNDED}),
        S.REJECTED: MappingProxyType({}),
        S.REFUND_FAILED: MappingProxyType({A.START_REFUND: S.REFUNDING}),
    }
)


class ReturnTransitionNotAllowed(Exception):
    def __init__(self, status: ReturnStatus, action: ReturnAction) -> None:
        super().__init__(f"{action} is not allowed when the return is {status}")
        self.status, self.action = status, action


def can(status: ReturnStatus, action: ReturnAction) -> bool:
    return action in TRANSITIONS[status]


def next_status(status: ReturnStatus, action: ReturnAction) -> ReturnStatus:
    try:
        return TRANSITIONS[status][action]
    except KeyError:
        raise ReturnTransitionNotAllowed(status, action) from None
