"""The refund-in-transit state machine, walked over every (status, action) pair."""

import pytest

from backend.refunds.in_transit_lifecycle import (
    TRANSITIONS,
    InTransitAction,
    InTransitMethod,
    InTransitStatus,
    InTransitTransitionNotAllowed,
    allowed_actions,
    can,
    first_status,
    next_status,
)

S, A = InTransitStatus, InTransitAction
EXPECTED = {
    (S.INTERCEPT_ASKED, A.CARRIER_REFUSED): S.INTERCEPT_FAILED,
    (S.INTERCEPT_ASKED, A.PARCEL_RETURNING): S.RETURNING,
    (S.INTERCEPT_ASKED, A.PARCEL_REFUSED): S.REFUSED,
    (S.INTERCEPT_ASKED, A.PARCEL_DELIVERED): S.CANCELLED,
    (S.INTERCEPT_FAILED, A.CARRIER_RETRIED): S.INTERCEPT_ASKED,
    (S.INTERCEPT_FAILED, A.ADVISE_REFUSE): S.REFUSE_ADVISED,
    (S.INTERCEPT_FAILED, A.PARCEL_RETURNING): S.RETURNING,
    (S.INTERCEPT_FAILED, A.PARCEL_REFUSED): S.REFUSED,
    (S.INTERCEPT_FAILED, A.PARCEL_DELIVERED): S.CANCELLED,
    (S.REFUSE_ADVISED, A.PARCEL_RETURNING): S.RETURNING,
    (S.REFUSE_ADVISED, A.PARCEL_REFUSED): S.REFUSED,
    (S.REFUSE_ADVISED, A.PARCEL_DELIVERED): S.CANCELLED,
    (S.RETURNING, A.RELEASE): S.REFUNDING,
    (S.RETURNING, A.SEND_TO_REVIEW): S.IN_REVIEW,
    (S.REFUSED, A.RELEASE): S.REFUNDING,
    (S.REFUSED, A.SEND_TO_REVIEW): S.IN_REVIEW,
    (S.IN_REVIEW, A.RELEASE): S.REFUNDING,
    (S.IN_REVIEW, A.REJECT): S.REJECTED,
    (S.REFUNDING, A.REFUND_SUCCEEDED): S.REFUNDED,
    (S.REFUNDING, A.REFUND_FAILED): S.REFUND_FAILED,
    (S.REFUND_FAILED, A.RELEASE): S.REFUNDING,
}


@pytest.mark.parametrize(("status", "action"), [(s, a) for s in S for a in A])
def test_every_status_and_action_pair_moves_exactly_as_the_table_says(status, action):
    expected = EXPECTED.get((status, action))
    assert can(status, action) is (expected is not None)
    assert (action in allowed_actions(status)) is (expected is not None)
    if expected is None:
        with pytest.raises(InTransitTransitionNotAllowed):
            next_status(status, action)
    else:
        assert next_status(status, action) is expected


def test_the_table_lists_every_status_and_the_ends_are_final():
    assert set(TRANSITIONS) == set(S)
    assert {s for s, moves in TRANSITIONS.items() if not moves} == {
        S.REFUNDED,
        S.REJECTED,
        S.CANCELLED,
    }


@pytest.mark.parametrize(
    ("method", "askable", "expected"),
    [
        (InTransitMethod.INTERCEPT, True, S.INTERCEPT_ASKED),
        (InTransitMethod.INTERCEPT, False, S.INTERCEPT_FAILED),
        (InTransitMethod.REFUSE, True, S.REFUSE_ADVISED),
        (InTransitMethod.REFUSE, False, S.REFUSE_ADVISED),
    ],
)
def test_a_request_starts_where_its_method_and_carrier_allow(method, askable, expected):
    assert first_status(method, askable) is expected
