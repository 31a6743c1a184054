"""The support request state machine as a table: pure functions, no I/O."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class RequestKind(StrEnum):
    REMINDER = "reminder"  # 催发货: "please ship my order", at most once per Shanghai day
    MESSAGE = "message"  # 联系客服: a free-text message with the order attached


class NoteKind(StrEnum):
    NOTE = "note"  # 备注: for the team, never shown to the customer
    COMPLAINT = "complaint"  # 投诉: open until resolved, an open issue on the customer page


class RequestStatus(StrEnum):
    OPEN = "open"  # waiting for support
    ANSWERED = "answered"  # staff replied; the customer sees the reply on the tracking page


class RequestAction(StrEnum):
    ANSWER = "answer"


TRANSITIONS: MappingProxyType[RequestStatus, MappingProxyType[RequestAction, RequestStatus]] = (
    MappingProxyType(
        {
            RequestStatus.OPEN: MappingProxyType({RequestAction.ANSWER: RequestStatus.ANSWERED}),
            # One reply per request: a second question is a new message, so the queue stays honest.
            RequestStatus.ANSWERED: MappingProxyType({}),
        }
    )
)


class RequestTransitionNotAllowed(Exception):
    """The action is not possible from the request's current status."""

    def __init__(self, status: RequestStatus, action: RequestAction) -> None:
        super().__init__(f"{action} is not allowed when the request is {status}")
        self.status, self.action = status, action


def allowed_actions(status: RequestStatus) -> frozenset[RequestAction]:
    return frozenset(TRANSITIONS[status])


def next_status(status: RequestStatus, action: RequestAction) -> RequestStatus:
    try:
        return TRANSITIONS[status][action]
    except KeyError:
        raise RequestTransitionNotAllowed(status, action) from None
