"""The exchange state machine as a table: pure functions, no I/O."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class ExchangeStatus(StrEnum):
    AWAITING_PARCEL = "awaiting_parcel"  # the new unit is reserved; the customer posts the old one
    PARCEL_SENT = "parcel_sent"  # the customer gave the return waybill
    COLLECTED = "collected"  # the carrier has the return parcel: the replacement may ship
    DONE = "done"  # the warehouse signed the old unit in; any price difference is refunded
    CANCELLED = "cancelled"  # the customer gave up before posting: the new unit is released
    EXPIRED = "expired"  # no return waybill by expires_at: the new unit is released


class ExchangeAction(StrEnum):
    SEND_BACK = "send_back"
    COLLECT = "collect"
    RECEIVE = "receive"
    CANCEL = "cancel"
    EXPIRE = "expire"


S, A = ExchangeStatus, ExchangeAction

TRANSITIONS: MappingProxyType[ExchangeStatus, MappingProxyType[ExchangeAction, ExchangeStatus]] = (
    MappingProxyType(
        {
            S.AWAITING_PARCEL: MappingProxyType(
                {
                    A.SEND_BACK: S.PARCEL_SENT,
                    # A carrier scan can arrive before the customer types the waybill in.
                    A.COLLECT: S.COLLECTED,
                    A.CANCEL: S.CANCELLED,
                    A.EXPIRE: S.EXPIRED,
                }
            ),
            # Once a waybill exists the parcel is on its way: cancelling would strand it.
            S.PARCEL_SENT: MappingProxyType({A.COLLECT: S.COLLECTED, A.RECEIVE: S.DONE}),
            S.COLLECTED: MappingProxyType({A.COLLECT: S.COLLECTED, A.RECEIVE: S.DONE}),
            S.DONE: MappingProxyType({}),
            S.CANCELLED: MappingProxyType({}),
            S.EXPIRED: MappingProxyType({}),
        }
    )
)

# The replacement's reserved unit goes back to stock on these, exactly once.
ABANDONED = frozenset({S.CANCELLED, S.EXPIRED})
# An exchange still holding a line: a second exchange of the same line is refused.
OPEN = frozenset({S.AWAITING_PARCEL, S.PARCEL_SENT, S.COLLECTED})


class ExchangeTransitionNotAllowed(Exception):
    """The action is not possible from the exchange's current status."""

    def __init__(self, status: ExchangeStatus, action: ExchangeAction) -> None:
        super().__init__(f"{action} is not allowed when the exchange is {status}")
        self.status, self.action = status, action


def can(status: ExchangeStatus, action: ExchangeAction) -> bool:
    return action in TRANSITIONS[status]


def allowed_actions(status: ExchangeStatus) -> frozenset[ExchangeAction]:
    return frozenset(TRANSITIONS[status])


def next_status(status: ExchangeStatus, action: ExchangeAction) -> ExchangeStatus:
    try:
        return TRANSITIONS[status][action]
    except KeyError:
        raise ExchangeTransitionNotAllowed(status, action) from None
