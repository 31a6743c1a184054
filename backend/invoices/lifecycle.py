"""The invoice request's state machine as a table: pure functions, no I/O."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class InvoiceStatus(StrEnum):
    REQUESTED = "requested"  # 待开票: waiting in the staff queue
    ISSUED = "issued"  # 已开票: the PDF is stored and the customer may download it
    REJECTED = "rejected"  # staff could not issue it (wrong title ...); the customer may ask again
    REVERSAL_PENDING = "reversal_pending"  # a refund landed after issue: 红冲 is owed
    REVERSED = "reversed"  # 已红冲: the red-letter invoice was issued outside the portal


class InvoiceAction(StrEnum):
    ISSUE = "issue"
    REJECT = "reject"
    FLAG_REVERSAL = "flag_reversal"
    RECORD_REVERSAL = "record_reversal"


S, A = InvoiceStatus, InvoiceAction

TRANSITIONS = MappingProxyType(
    {
        S.REQUESTED: MappingProxyType({A.ISSUE: S.ISSUED, A.REJECT: S.REJECTED}),
        S.ISSUED: MappingProxyType({A.FLAG_REVERSAL: S.REVERSAL_PENDING}),
        # A second refund on an order already flagged changes nothing: still one 红冲 owed.
        S.REVERSAL_PENDING: MappingProxyType(
            {A.FLAG_REVERSAL: S.REVERSAL_PENDING, A.RECORD_REVERSAL: S.REVERSED}
        ),
        S.REJECTED: MappingProxyType({}),
        S.REVERSED: MappingProxyType({}),
    }
)

# A request in one of these states stands for the order: no second request beside it.
OPEN_STATES = frozenset({S.REQUESTED, S.ISSUED, S.REVERSAL_PENDING})
# The PDF exists (a reversed invoice's PDF is still the record of what was issued).
PDF_STATES = frozenset({S.ISSUED, S.REVERSAL_PENDING, S.REVERSED})


class InvoiceTransitionNotAllowed(Exception):
    def __init__(self, status: InvoiceStatus, action: InvoiceAction) -> None:
        super().__init__(f"{action} is not allowed when the invoice is {status}")
        self.status, self.action = status, action


def can(status: InvoiceStatus, action: InvoiceAction) -> bool:
    return action in TRANSITIONS[status]


def allowed_actions(status: InvoiceStatus) -> frozenset[InvoiceAction]:
    return frozenset(TRANSITIONS[status])


def next_status(status: InvoiceStatus, action: InvoiceAction) -> InvoiceStatus:
    try:
        return TRANSITIONS[status][action]
    except KeyError:
        raise InvoiceTransitionNotAllowed(status, action) from None
