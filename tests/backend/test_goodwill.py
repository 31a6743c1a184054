"""补偿 through the service: the table over every pair, the cap, the limit, one per click."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.goodwill import service
from backend.goodwill.lifecycle import (
    TRANSITIONS,
    GoodwillAction,
    GoodwillStatus,
    GoodwillTransitionNotAllowed,
    next_status,
)
from backend.goodwill.models import GoodwillRefund
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import PaymentMethod
from backend.refunds import payouts
from backend.refunds.models import Refund
from backend.staff.models import Role
from backend.staff.permissions import PermissionDenied
from tests.factories import make_order

S, A = GoodwillStatus, GoodwillAction
EXPECTED = {
    (S.AWAITING_APPROVAL, A.APPROVE): S.PAYING,
    (S.AWAITING_APPROVAL, A.REJECT): S.REJECTED,
}
SUPPORT = Actor(ActorKind.STAFF, "客服小王", role=Role.SUPPORT)
FINANCE = Actor(ActorKind.STAFF, "财务小陈", role=Role.FINANCE)
LIMIT = 5000


@pytest.mark.parametrize("status", list(S), ids=str)
@pytest.mark.parametrize("action", list(A), ids=str)
def test_every_status_and_action_pair_moves_exactly_as_the_table_says(status, action):
    expected = EXPECTED.get((status, action))
    if expected is None:
        with pytest.raises(GoodwillTransitionNotAllowed):
            next_status(status, action)
    else:
        assert next_status(status, action) == expected


def test_the_table_lists_every_status():
    assert set(TRANSITIONS) == set(S)


def stored(database, order_id):
    with database.read() as session:
        rows = session.scalars(
            select(GoodwillRefund).where(GoodwillRefund.order_id == order_id)
        ).all()
        refunds = session.scalars(
            select(Refund.amount_fen).where(Refund.order_id == order_id).order_by(Refund.id)
        ).all()
        return [(r.amount_fen, r.status) for r in rows], list(refunds)


def ask(database, order, amount, key="key-00000001", actor=SUPPORT):
    return service.request_goodwill(database, order.id, amount, "包装破损补偿", key, actor, LIMIT)


def test_at_or_below_the_limit_it_is_paid_at_once_through_the_gateway(database):
    order = make_order(database)
    outcome = ask(database, order, LIMIT)
    assert (outcome.status, outcome.repeated) == (S.PAYING, False)
    assert stored(database, order.id) == ([(LIMIT, S.PAYING)], [LIMIT])
    again = ask(database, order, LIMIT)  # the same form twice
    assert again.repeated and stored(database, order.id) == ([(LIMIT, S.PAYING)], [LIMIT])


def test_above_the_limit_it_waits_for_someone_else_in_finance(database):
    order = make_order(database)
    waiting = ask(database, order, LIMIT + 1)
    assert waiting.status == S.AWAITING_APPROVAL
    assert stored(database, order.id) == ([(LIMIT + 1, S.AWAITING_APPROVAL)], [])
    assert [v.id for v in service.list_awaiting(database)] == [waiting.id]
    admin_who_asked = Actor(ActorKind.STAFF, "客服小王", role=Role.ADMIN)
    with pytest.raises(service.SameApprover):
        service.decide_goodwill(database, waiting.id, True, admin_who_asked)
    with pytest.raises(PermissionDenied):
        service.decide_goodwill(database, waiting.id, True, SUPPORT)
    paid = service.decide_goodwill(database, waiting.id, True, FINANCE)
    assert paid.status == S.PAYING
    assert stored(database, order.id) == ([(LIMIT + 1, S.PAYING)], [LIMIT + 1])
    with pytest.raises(GoodwillTransitionNotAllowed):  # a second approval click
        service.decide_goodwill(database, waiting.id, True, FINANCE)
    assert service.list_awaiting(database) == []


def test_a_rejection_pays_nothing_and_frees_the_room(database):
    order = make_order(database)  # ¥256.00 paid
    waiting = ask(database, order, 25_600)
    with pytest.raises(service.GoodwillExceedsRoom) as full:
        ask(database, order, 100, key="key-00000002")
    assert full.value.room_fen == 0
    service.decide_goodwill(database, waiting.id, False, FINANCE)
    assert stored(database, order.id) == ([(25_600, S.REJECTED)], [])
    assert ask(database, order, 100, key="key-00000002").status == S.PAYING


def test_capped_at_paid_minus_refunds_committed(database):
    order = make_order(database)
    with database.write() as session:
        payouts.start_refund(session, order.id, 25_000, SUPPORT)
    with pytest.raises(service.GoodwillExceedsRoom) as over:
        ask(database, order, 601)
    assert over.value.room_fen == 600
    assert ask(database, order, 600).status == S.PAYING


def test_approval_after_other_refunds_used_the_room_is_refused(database):
    order = make_order(database)
    waiting = ask(database, order, 20_000)
    with database.write() as session:
        payouts.start_refund(session, order.id, 10_000, SUPPORT)  # a return, meanwhile
    with pytest.raises(service.GoodwillExceedsRoom):
        service.decide_goodwill(database, waiting.id, True, FINANCE)
    assert stored(database, order.id) == ([(20_000, S.AWAITING_APPROVAL)], [10_000])


@pytest.mark.parametrize("amount", [0, -1])
def test_garbage_and_unpayable_orders_are_refused(database, amount):
    order = make_order(database)
    with pytest.raises(service.GoodwillInvalid):
        ask(database, order, amount)
    with pytest.raises(service.GoodwillInvalid):
        service.request_goodwill(database, order.id, 100, "  ", "key-00000001", SUPPORT, LIMIT)
    unpaid = make_order(database, status=OrderStatus.PENDING_PAYMENT)
    platform = make_order(database, payment_method=PaymentMethod.PLATFORM)
    for other in (unpaid, platform):
        with pytest.raises(service.GoodwillNotPayable):
            ask(database, other, 100)
    warehouse = Actor(ActorKind.STAFF, "仓库小张", role=Role.WAREHOUSE)
    with pytest.raises(PermissionDenied):
        ask(database, order, 100, actor=warehouse)
    assert stored(database, order.id) == ([], [])


def test_racing_clicks_of_one_form_make_one_goodwill_and_one_refund(database):
    order = make_order(database)
    outcomes, errors = [], []

    def click():
        try:
            outcomes.append(ask(database, order, 1000))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(o.repeated for o in outcomes) == [False] + [True] * 5
    assert stored(database, order.id) == ([(1000, S.PAYING)], [1000])


def test_racing_approvals_pay_once(database):
    order = make_order(database)
    waiting = ask(database, order, 20_000)
    others = [Actor(ActorKind.STAFF, f"财务{n}", role=Role.FINANCE) for n in range(4)]
    paid, refused = [], []

    def approve(actor):
        try:
            paid.append(service.decide_goodwill(database, waiting.id, True, actor))
        except GoodwillTransitionNotAllowed as error:
            refused.append(error)

    threads = [threading.Thread(target=approve, args=(actor,)) for actor in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(paid), len(refused)) == (1, 3)
    assert stored(database, order.id) == ([(20_000, S.PAYING)], [20_000])
