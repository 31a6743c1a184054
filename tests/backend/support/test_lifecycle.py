"""The support request state machine, walked over every (status, action) pair."""

import pytest

from backend.support.lifecycle import (
    TRANSITIONS,
    RequestAction,
    RequestStatus,
    RequestTransitionNotAllowed,
    allowed_actions,
    next_status,
)

EXPECTED = {
    (RequestStatus.OPEN, RequestAction.ANSWER): RequestStatus.ANSWERED,
}


def test_the_table_names_every_status():
    assert set(TRANSITIONS) == set(RequestStatus)


@pytest.mark.parametrize("status", list(RequestStatus))
@pytest.mark.parametrize("action", list(RequestAction))
def test_every_pair_moves_as_the_table_says_or_is_refused(status, action):
    expected = EXPECTED.get((status, action))
    if expected is None:
        assert action not in allowed_actions(status)
        with pytest.raises(RequestTransitionNotAllowed):
            next_status(status, action)
    else:
        assert action in allowed_actions(status)
        assert next_status(status, action) == expected
