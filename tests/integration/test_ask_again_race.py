"""Asking again after a rejection, eight times at once over HTTP: exactly one request is filed."""

from __future__ import annotations

import re
import threading

import httpx
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.orders.lifecycle import OrderStatus
from backend.orders.service import NewLine
from backend.refunds.models import ReturnRequest
from backend.refunds.rules import RefundRules, RefundType
from backend.refunds.service import ReturnInvalid, ask_again, file_return, review_return
from backend.staff.models import Role
from tests.factories import make_order
from tests.live_portal import live_portal
from tests.portal.helpers import ADMIN

CALLERS = 8
SUPPORT = Actor(ActorKind.STAFF, "客服小李", channel="admin", role=Role.SUPPORT)


def _rejected_return(database) -> tuple[object, int]:
    # Two units, one returned: the quantity check alone would let a second ask-again through.
    order = make_order(
        database, status=OrderStatus.DELIVERED, lines=[NewLine("COAT-1", "羊毛大衣", 2, 35_000)]
    )
    with database.read() as session:
        from backend.orders.models import OrderLine

        line_id = session.scalars(select(OrderLine.id).where(OrderLine.order_id == order.id)).one()
    filed = file_return(
        database,
        order.id,
        order.customer_id,
        {line_id: 1},
        RefundType.RETURN_AND_REFUND,
        "no_reason_7_days",
        "",
        [],
        RefundRules(),
        Actor(ActorKind.CUSTOMER, "customer:test"),
    )
    review_return(database, filed.return_id, False, SUPPORT, reason="衣物已洗涤")
    return order, filed.return_id


def test_eight_simultaneous_asks_again_file_exactly_one_request(database, settings):
    order, return_id = _rejected_return(database)
    from datetime import timedelta

    from backend.orders.access import issue_short_link

    code = issue_short_link(database, order.id, ADMIN, timedelta(days=1))
    with live_portal(database, settings) as (base_url, _):
        customer = httpx.Client(base_url=base_url, timeout=120)
        assert customer.get(f"/t/{code}").status_code == 303
        token = re.search(r'name="csrf_token" value="([^"]+)"', customer.get("/lookup").text)[1]
        path = f"/orders/{order.public_no}/returns/{return_id}/again"
        start = threading.Barrier(CALLERS)
        answers: list[int] = []

        def ask() -> None:
            start.wait()
            answer = customer.post(path, data={"description": "未洗涤", "csrf_token": token})
            answers.append(answer.status_code)

        threads = [threading.Thread(target=ask) for _ in range(CALLERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        customer.close()
    assert sorted(answers) == [303] + [422] * (CALLERS - 1)
    with database.read() as session:
        again = session.scalars(
            select(ReturnRequest).where(ReturnRequest.resubmitted_from == return_id)
        ).all()
        total = session.scalar(select(func.count()).select_from(ReturnRequest))
    assert len(again) == 1 and total == 2


def test_eight_threads_asking_again_at_once_file_one_request_in_every_round(database):
    """Straight at the service, past the web layer's queue: the database must hold the line."""
    for _round in range(5):
        order, return_id = _rejected_return(database)
        start = threading.Barrier(CALLERS)
        outcomes: list[str] = []

        def ask(order=order, return_id=return_id, start=start, outcomes=outcomes) -> None:
            start.wait()
            try:
                ask_again(
                    database,
                    return_id,
                    order.customer_id,
                    "未洗涤",
                    [],
                    RefundRules(),
                    Actor(ActorKind.CUSTOMER, "customer:test"),
                )
                outcomes.append("filed")
            except ReturnInvalid:
                outcomes.append("refused")

        threads = [threading.Thread(target=ask) for _ in range(CALLERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with database.read() as session:
            again = session.scalar(
                select(func.count())
                .select_from(ReturnRequest)
                .where(ReturnRequest.resubmitted_from == return_id)
            )
        assert (sorted(outcomes), again) == (["filed"] + ["refused"] * (CALLERS - 1), 1)
