"""Database errors name the statement, never its parameters: their texts reach logs and job rows."""

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from backend.clock import utcnow
from backend.orders.models import ShortLink
from tests.factories import make_order


def refused_insert(database, value: str) -> IntegrityError:
    """The error a duplicate insert raises, as any caller (and then a log) would see it."""
    order = make_order(database)
    now = utcnow()
    with database.write() as session:
        session.add(ShortLink(code_hash=value, order_id=order.id, expires_at=now))
    with pytest.raises(IntegrityError) as refused, database.write() as session:
        session.add(ShortLink(code_hash=value, order_id=order.id, expires_at=now + timedelta(1)))
    return refused.value


def test_an_integrity_error_hides_the_statements_parameters(database):
    error = refused_insert(database, "code-13917263548")
    assert "INSERT INTO short_links" in str(error)
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(error)
    # PostgreSQL's own DETAIL line still names the key; the log filter drops that line.
    if database.is_sqlite:
        assert "13917263548" not in str(error)
