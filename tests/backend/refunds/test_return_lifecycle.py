"""The return request's state machine, walked over every (status, action) pair."""

import pytest

from backend.refunds.lifecycle import (
    TRANSITIONS,
    ReturnAction,
    ReturnStatus,
    ReturnTransitionNotAllowed,
    can,
    next_status,
)

S, A = ReturnStatus, ReturnAction
EXPECTED = {
    (S.IN_REVIEW, A.APPROVE): S.APPROVED,
    (S.IN_REVIEW, A.REJECT): S.REJECTED,
    (S.APPROVED, A.WAIT_FOR_PARCEL): S.AWAITING_PARCEL,
    (S.APPROVED, A.START_REFUND): S.REFUNDING,
    (S.AWAITING_PARCEL, A.PARCEL_SENT): S.PARCEL_IN_TRANSIT,
    (S.AWAITING_PARCEL, A.PARCEL_RECEIVED): S.RECEIVED,
    (S.PARCEL_IN_TRANSIT, A.PARCEL_RECEIVED): S.RECEIVED,
    (S.PARCEL_IN_TRANSIT, A.START_REFUND): S.REFUNDING,
    (S.RECEIVED, A.START_REFUND): S.REFUNDING,
    (S.REFUNDING, A.REFUND_SUCCEEDED): S.REFUNDED,
    (S.REFUNDING, A.REFUND_FAILED): S.REFUND_FAILED,
    (S.REFUNDING, A.PARCEL_RECEIVED): S.REFUNDING,
    (S.REFUNDED, A.PARCEL_RECEIVED): S.REFUNDED,
    (S.REFUND_FAILED, A.START_REFUND): S.REFUNDING,
}


@pytest.mark.parametrize(("status", "action"), [(s, a) for s in S for a in A])
def test_every_status_and_action_pair(status, action):
    expected = EXPECTED.get((status, action))
    assert can(status, action) is (expected is not None)
    if expected is None:
        with pytest.raises(ReturnTransitionNotAllowed):
            next_status(status, action)
    else:
        assert next_status(status, action) is expected


def test_the_table_lists_every_status_and_rejected_is_final():
    assert set(TRANSITIONS) == set(S)
    assert not TRANSITIONS[S.REJECTED]
