"""A goodwill refund as a table: pure functions, no I/O.

At or below the limit it is paid as it is asked for (born PAYING); above it, it waits for
finance (AWAITING_APPROVAL) and is paid on approval or closed on rejection. Once PAYING,
the money's own progress is the refund row's (payouts), not a state here.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class GoodwillStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # above the limit: finance decides
    PAYING = "paying"  # the refund row and its job exist (payouts.start_refund)
    REJECTED = "rejected"  # finance said no; nothing was paid


class GoodwillAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


S, A = GoodwillStatus, GoodwillAction

TRANSITIONS: MappingProxyType[GoodwillStatus, MappingProxyType[GoodwillAction, GoodwillStatus]] = (
    MappingProxyType(
        {
            S.AWAITING_APPROVAL: MappingProxyType({A.APPROVE: S.PAYING, A.REJECT: S.REJECTED}),
            S.PAYING: MappingProxyType({}),
            S.REJECTED: MappingProxyType({}),
        }
    )
)


class GoodwillTransitionNotAllowed(Exception):
    def __init__(self, status: GoodwillStatus, action: GoodwillAction) -> None:
        super().__init__(f"{action} not allowed from {status}")
        self.status, self.action = status, action


def next_status(status: GoodwillStatus, action: GoodwillAction) -> GoodwillStatus:
    try:
        return TRANSITIONS[status][action]
    except KeyError:
        raise GoodwillTransitionNotAllowed(status, action) from None
