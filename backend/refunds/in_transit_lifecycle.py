"""The 仅退款-while-in-transit request's state machine as a table: pure functions, no I/O.

One request per parcel. The customer asks the carrier to send it back (拦截退回) or is told
to refuse it at the door (拒收); the refund is released when the carrier reports it.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class InTransitMethod(StrEnum):
    INTERCEPT = "intercept"  # 拦截退回: the carrier sends the parcel back to us
    REFUSE = "refuse"  # 拒收: the customer refuses it at delivery


class InTransitStatus(StrEnum):
    INTERCEPT_ASKED = "intercept_asked"  # the carrier is (being) asked to send it back
    # The carrier said no, or it can only be asked by phone (SF): a person must act.
    INTERCEPT_FAILED = "intercept_failed"
    REFUSE_ADVISED = "refuse_advised"  # the customer refuses the parcel at the door
    RETURNING = "returning"  # the carrier reports it on its way back (退回)
    REFUSED = "refused"  # the carrier reports it refused (拒收 / 拒签)
    IN_REVIEW = "in_review"  # the rules wanted a person before releasing the money
    REFUNDING = "refunding"  # released through payouts.start_refund
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"  # the gateway refused for good: finance takes over
    REJECTED = "rejected"  # a person said no after review
    CANCELLED = "cancelled"  # delivered after all: a normal return is the way now


class InTransitAction(StrEnum):
    CARRIER_REFUSED = "carrier_refused"
    CARRIER_RETRIED = "carrier_retried"  # staff got the carrier to take the intercept
    ADVISE_REFUSE = "advise_refuse"  # staff give up on the intercept: refuse at the door
    PARCEL_RETURNING = "parcel_returning"
    PARCEL_REFUSED = "parcel_refused"
    PARCEL_DELIVERED = "parcel_delivered"
    RELEASE = "release"
    SEND_TO_REVIEW = "send_to_review"
    REJECT = "reject"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"


S, A = InTransitStatus, InTransitAction

# Still on the road: whatever the carrier says next decides the request.
_ON_THE_ROAD = MappingProxyType(
    {
        A.PARCEL_RETURNING: S.RETURNING,
        A.PARCEL_REFUSED: S.REFUSED,
        A.PARCEL_DELIVERED: S.CANCELLED,
    }
)
# The parcel is coming back: the rules release the money or a person decides.
_COMING_BACK = MappingProxyType({A.RELEASE: S.REFUNDING, A.SEND_TO_REVIEW: S.IN_REVIEW})

TRANSITIONS = MappingProxyType(
    {
        S.INTERCEPT_ASKED: MappingProxyType(
            {**_ON_THE_ROAD, A.CARRIER_REFUSED: S.INTERCEPT_FAILED}
        ),
        S.INTERCEPT_FAILED: MappingProxyType(
            {
                **_ON_THE_ROAD,
                A.CARRIER_RETRIED: S.INTERCEPT_ASKED,
                A.ADVISE_REFUSE: S.REFUSE_ADVISED,
            }
        ),
        S.REFUSE_ADVISED: _ON_THE_ROAD,
        S.RETURNING: _COMING_BACK,
        S.REFUSED: _COMING_BACK,
        S.IN_REVIEW: MappingProxyType({A.RELEASE: S.REFUNDING, A.REJECT: S.REJECTED}),
        S.REFUNDING: MappingProxyType(
            {A.REFUND_SUCCEEDED: S.REFUNDED, A.REFUND_FAILED: S.REFUND_FAILED}
        ),
        S.REFUNDED: MappingProxyType({}),
        # Finance fixes the account and releases it again, with a new refund row.
        S.REFUND_FAILED: MappingProxyType({A.RELEASE: S.REFUNDING}),
        S.REJECTED: MappingProxyType({}),
        S.CANCELLED: MappingProxyType({}),
    }
)

# A request in these states still waits for the carrier.
WAITING_FOR_CARRIER = frozenset({S.INTERCEPT_ASKED, S.INTERCEPT_FAILED, S.REFUSE_ADVISED})
# A person must act on these (the staff queue).
NEEDS_A_PERSON = frozenset({S.INTERCEPT_FAILED, S.IN_REVIEW, S.REFUND_FAILED})


class InTransitTransitionNotAllowed(Exception):
    def __init__(self, status: InTransitStatus, action: InTransitAction) -> None:
        super().__init__(f"{action} is not allowed when the request is {status}")
        self.status, self.action = status, action


def can(status: InTransitStatus, action: InTransitAction) -> bool:
    return action in TRANSITIONS[status]


def allowed_actions(status: InTransitStatus) -> frozenset[InTransitAction]:
    return frozenset(TRANSITIONS[status])


def next_status(status: InTransitStatus, action: InTransitAction) -> InTransitStatus:
    try:
        return TRANSITIONS[status][action]
    except KeyError:
        raise InTransitTransitionNotAllowed(status, action) from None


def first_status(method: InTransitMethod, carrier_can_be_asked: bool) -> InTransitStatus:
    """Where a new request starts: SF intercepts are a phone call, so they start with a person."""
    if method == InTransitMethod.REFUSE:
        return S.REFUSE_ADVISED
    return S.INTERCEPT_ASKED if carrier_can_be_asked else S.INTERCEPT_FAILED
