"""The exchange state machine, walked over every (status, action) pair."""

import pytest

from backend.exchanges.lifecycle import (
    ABANDONED,
    OPEN,
    TRANSITIONS,
    ExchangeAction,
    ExchangeStatus,
    ExchangeTransitionNotAllowed,
    allowed_actions,
    can,
    next_status,
)

S, A = ExchangeStatus, ExchangeAction
EXPECTED = {
    (S.AWAITING_PARCEL, A.SEND_BACK): S.PARCEL_SENT,
    (S.AWAITING_PARCEL, A.COLLECT): S.COLLECTED,
    (S.AWAITING_PARCEL, A.CANCEL): S.CANCELLED,
    (S.AWAITING_PARCEL, A.EXPIRE): S.EXPIRED,
    (S.PARCEL_SENT, A.COLLECT): S.COLLECTED,
    (S.PARCEL_SENT, A.RECEIVE): S.DONE,
    (S.COLLECTED, A.COLLECT): S.COLLECTED,
    (S.COLLECTED, A.RECEIVE): S.DONE,
}
PAIRS = [(status, action) for status in S for action in A]


def test_every_status_has_a_row():
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("status", "action"), PAIRS)
def test_each_pair_moves_as_the_table_says_or_is_refused(status, action):
    expected = EXPECTED.get((status, action))
    assert can(status, action) is (expected is not None)
    assert (action in allowed_actions(status)) is (expected is not None)
    if expected is None:
        with pytest.raises(ExchangeTransitionNotAllowed):
            next_status(status, action)
    else:
        assert next_status(status, action) == expected


def test_final_states_allow_nothing_and_open_states_are_the_rest():
    final = {s for s in S if not allowed_actions(s)}
    assert final == {S.DONE, *ABANDONED}
    assert set(S) - final == OPEN


def test_a_parcel_on_its_way_cannot_be_cancelled():
    assert not can(S.PARCEL_SENT, A.CANCEL)
    assert not can(S.COLLECTED, A.CANCEL)
