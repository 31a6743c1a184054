"""The customer page's read model on known data: its figures, lists and who looked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend import disclosure
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.customer_view import get_customer_view
from backend.refunds.models import Refund, RefundState
from backend.staff.models import Role
from backend.staff.permissions import PermissionDenied
from backend.support import notes
from backend.support.lifecycle import NoteKind
from backend.support.service import leave_message
from tests.factories import make_order

SUPPORT = Actor(ActorKind.STAFF, "lin", channel="admin", role=Role.SUPPORT)
WAREHOUSE = Actor(ActorKind.STAFF, "wu", channel="admin", role=Role.WAREHOUSE)


def _refund(database, order_id: int, fen: int, state: RefundState, days_ago: int) -> None:
    with database.write() as session:
        session.add(
            Refund(
                order_id=order_id,
                gateway="wechat_pay",
                out_refund_no=f"R{order_id}-{fen}-{state}",
                amount_fen=fen,
                status=state,
                created_at=utcnow() - timedelta(days=days_ago),
            )
        )


def test_the_figures_count_what_support_asks_for(database):
    old = make_order(database, placed_at=utcnow() - timedelta(days=100))
    recent = make_order(database)
    other = make_order(database, phone="13900139000", name="李四")
    assert old.customer_id == recent.customer_id != other.customer_id
    _refund(database, recent.id, 2_000, RefundState.SUCCESS, days_ago=3)
    _refund(database, recent.id, 500, RefundState.FAILED, days_ago=2)  # nothing paid
    _refund(database, old.id, 9_900, RefundState.SUCCESS, days_ago=95)  # too long ago
    _refund(database, other.id, 1_000, RefundState.SUCCESS, days_ago=1)  # someone else
    leave_message(
        database, recent.id, Actor(ActorKind.CUSTOMER, f"customer:{recent.public_no}"), "在吗"
    )
    complaint = notes.add_note(database, recent.id, NoteKind.COMPLAINT, "快递员态度差", SUPPORT)
    notes.add_note(database, old.id, NoteKind.NOTE, "老客户，爱喝龙井", SUPPORT)
    resolved = notes.add_note(database, old.id, NoteKind.COMPLAINT, "包装破损", SUPPORT)
    notes.resolve_complaint(database, resolved, SUPPORT)
    disclosure.reveal_contact(database, recent.id, "客户来电核对地址", SUPPORT)

    view = get_customer_view(database, recent.customer_id)

    assert view is not None
    assert view.phone == "138****8000"
    assert (view.figures.orders, view.figures.orders_recent) == (2, 1)
    assert (view.figures.refunds_recent, view.figures.refunded_recent_fen) == (1, 2_000)
    # The message and the open complaint; the resolved complaint and the note are not open.
    assert view.figures.open_issues == 2
    assert [o.id for o in view.orders] == [recent.id, old.id]
    assert len(view.refunds) == 3
    assert {(n.kind, n.open) for n in view.notes} == {
        (NoteKind.COMPLAINT, True),
        (NoteKind.NOTE, False),
        (NoteKind.COMPLAINT, False),
    }
    assert next(n for n in view.notes if n.id == complaint).public_no == recent.public_no
    [look] = view.looks
    assert (look.staff, look.order_id, look.reason) == ("lin", recent.id, "客户来电核对地址")
    assert get_customer_view(database, other.customer_id).figures.open_issues == 0


def test_notes_are_checked_and_a_complaint_resolves_once(database):
    order = make_order(database)
    with pytest.raises(PermissionDenied):
        notes.add_note(database, order.id, NoteKind.NOTE, "看看", WAREHOUSE)
    with pytest.raises(notes.NoteEmpty):
        notes.add_note(database, order.id, NoteKind.NOTE, "   ", SUPPORT)
    with pytest.raises(notes.NoteTooLong):
        notes.add_note(database, order.id, NoteKind.NOTE, "长" * 1001, SUPPORT)
    with pytest.raises(notes.NoteOrderNotFound):
        notes.add_note(database, 999_999, NoteKind.NOTE, "x", SUPPORT)
    note = notes.add_note(database, order.id, NoteKind.NOTE, "备注", SUPPORT)
    with pytest.raises(notes.NotAComplaint):
        notes.resolve_complaint(database, note, SUPPORT)
    complaint = notes.add_note(database, order.id, NoteKind.COMPLAINT, "投诉", SUPPORT)
    assert notes.resolve_complaint(database, complaint, SUPPORT) == order.customer_id
    with pytest.raises(notes.NotAComplaint):
        notes.resolve_complaint(database, complaint, SUPPORT)
    assert get_customer_view(database, 999_999) is None
