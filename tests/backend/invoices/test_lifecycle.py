"""The invoice state machine, walked over every (status, action) pair."""

import pytest

from backend.invoices.lifecycle import (
    TRANSITIONS,
    InvoiceAction,
    InvoiceStatus,
    InvoiceTransitionNotAllowed,
    allowed_actions,
    can,
    next_status,
)

S, A = InvoiceStatus, InvoiceAction
EXPECTED = {
    (S.REQUESTED, A.ISSUE): S.ISSUED,
    (S.REQUESTED, A.REJECT): S.REJECTED,
    (S.ISSUED, A.FLAG_REVERSAL): S.REVERSAL_PENDING,
    (S.REVERSAL_PENDING, A.FLAG_REVERSAL): S.REVERSAL_PENDING,
    (S.REVERSAL_PENDING, A.RECORD_REVERSAL): S.REVERSED,
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
        with pytest.raises(InvoiceTransitionNotAllowed):
            next_status(status, action)
    else:
        assert next_status(status, action) == expected


def test_rejected_and_reversed_are_final():
    assert allowed_actions(S.REJECTED) == frozenset()
    assert allowed_actions(S.REVERSED) == frozenset()
