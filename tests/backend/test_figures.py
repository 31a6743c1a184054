"""The operations figures against values worked out by hand, for a range and the one before.

The data (Shanghai times, now = 10 Dec 12:00):
  range 1-7 Dec:  A paid 1 Dec 10:00 shipped 14:00 (4 h)
                  B paid 2 Dec 10:00 shipped 3 Dec 12:00 (26 h, late; returned: wrong item)
                  C paid 3 Dec 09:00 shipped 10:00 (1 h)
                  D paid 4 Dec 10:00, not shipped (late)
                  E paid 5 Dec 10:00, cancelled (no promise to keep)
                  refunds: B's return asked 5 Dec 10:00, money back 6 Dec 10:00 (24 h);
                           E's cancel refund made 5 Dec 11:00, back 13:00 (2 h)
                  2 customer messages (2 and 6 Dec)
  range 24-30 Nov: P paid 25 Nov 10:00 shipped 11:00 (1 h)
                  Q paid 30 Nov 23:00 shipped 1 Dec 01:00 (2 h: shipped in the later range)
                  1 customer message (26 Nov)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, select, update

from backend import figures
from backend.clock import SHANGHAI
from backend.figures import DayRange, RangeInvalid, percentile
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import AddressVersion, Order
from backend.orders.service import NewLine
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.models import Refund, RefundState, ReturnLine, ReturnRequest
from backend.refunds.rules import RefundType
from backend.support.lifecycle import RequestKind, RequestStatus
from backend.support.models import SupportRequest
from tests.factories import line_ids, make_order

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=SHANGHAI)
H = timedelta(hours=1)


def at(day: int, hour: int, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=SHANGHAI)


def order(database, paid, shipped=None, status=OrderStatus.SHIPPED):
    made = make_order(database, status=status)
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == made.id)
            .values(paid_at=paid, shipped_at=shipped, placed_at=paid - timedelta(minutes=5))
        )
    return made


@pytest.fixture
def shop(database):
    a = order(database, at(1, 10), at(1, 14))
    b = order(database, at(2, 10), at(3, 12))
    order(database, at(3, 9), at(3, 10))
    order(database, at(4, 10), status=OrderStatus.PAID)
    e = order(database, at(5, 10), status=OrderStatus.CANCELLED)
    order(database, at(25, 10, 11), at(25, 11, 11))
    order(database, at(30, 23, 11), at(1, 1))
    with database.write() as session:
        returned = ReturnRequest(
            order_id=b.id,
            customer_id=b.customer_id,
            status=ReturnStatus.REFUNDED,
            refund_type=RefundType.RETURN_AND_REFUND,
            reason="wrong_item",
            amount_fen=100,
            created_at=at(5, 10),
        )
        session.add(returned)
        session.flush()
        session.add_all(
            [
                Refund(
                    order_id=b.id,
                    return_id=returned.id,
                    gateway="wechatpay",
                    out_refund_no="R-B",
                    amount_fen=100,
                    status=RefundState.SUCCESS,
                    created_at=at(5, 11),
                    succeeded_at=at(6, 10),
                ),
                Refund(
                    order_id=e.id,
                    gateway="wechatpay",
                    out_refund_no="R-E",
                    amount_fen=100,
                    status=RefundState.SUCCESS,
                    created_at=at(5, 11),
                    succeeded_at=at(5, 13),
                ),
                # Not money back: it never counts.
                Refund(
                    order_id=a.id,
                    gateway="wechatpay",
                    out_refund_no="R-A",
                    amount_fen=100,
                    status=RefundState.FAILED,
                    created_at=at(5, 11),
                ),
            ]
        )
        for when in (at(2, 12), at(6, 12), at(26, 12, 11)):
            session.add(
                SupportRequest(
                    order_id=a.id,
                    kind=RequestKind.MESSAGE,
                    status=RequestStatus.OPEN,
                    body="?",
                    created_at=when,
                )
            )


def test_the_first_week_of_december_by_hand(database, shop):
    got = figures.figures_for(database, DayRange(date(2026, 12, 1), date(2026, 12, 7)), NOW)
    assert got.orders_paid == 5
    # Shipped in the range: Q 2 h, A 4 h, B 26 h, C 1 h -> 1, 2, 4, 26.
    assert got.shipped == 4
    assert got.processing_median == 2 * H
    assert got.processing_p90 == 26 * H
    # A and C within 24 h; B late, D not shipped; E cancelled is not counted.
    assert got.on_time_rate == 2 / 4
    assert got.accuracy_rate == 3 / 4
    assert got.refunds == 2 and got.refund_cycle_mean == 13 * H
    assert got.complaints == 2 and got.complaint_rate == 2 / 5


def test_the_week_before_by_hand_and_as_the_comparison(database, shop):
    days = DayRange(date(2026, 12, 1), date(2026, 12, 7))
    comparison = figures.compare(database, days, NOW)
    before = comparison.previous
    assert days.previous() == DayRange(date(2026, 11, 24), date(2026, 11, 30))
    assert before.orders_paid == 2
    assert before.shipped == 1 and before.processing_median == H == before.processing_p90
    assert before.on_time_rate == 1.0 and before.accuracy_rate == 1.0
    assert before.refunds == 0 and before.refund_cycle_mean is None
    assert before.complaint_rate == 1 / 2
    assert comparison.current == figures.figures_for(database, days, NOW)


def test_a_promise_not_yet_run_out_is_neither_on_time_nor_late(database):
    order(database, NOW - 2 * H, status=OrderStatus.PAID)
    today = NOW.date()
    got = figures.figures_for(database, DayRange(today, today), NOW)
    assert got.orders_paid == 1 and got.on_time_rate is None


def test_empty_ranges_have_no_rates_rather_than_zero(database):
    got = figures.figures_for(database, DayRange(date(2026, 1, 1), date(2026, 1, 31)), NOW)
    assert got.orders_paid == 0 and got.on_time_rate is None and got.complaint_rate is None


def test_a_range_backwards_or_over_a_year_is_refused():
    with pytest.raises(RangeInvalid):
        DayRange(date(2026, 12, 7), date(2026, 12, 1))
    with pytest.raises(RangeInvalid):
        DayRange(date(2025, 1, 1), date(2026, 1, 2))


def test_percentile_is_nearest_rank():
    ten = [n * H for n in range(1, 11)]
    assert percentile(ten, 0.9) == 9 * H and percentile(ten, 0.5) == 5 * H
    assert percentile([H], 0.9) == H and percentile([], 0.5) is None


def test_the_figures_cost_five_queries_per_range_however_many_orders(database, shop):
    days = DayRange(date(2026, 12, 1), date(2026, 12, 7))
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "PRAGMA", "SET")):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        figures.compare(database, days, NOW)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert len(statements) == 2 * figures.QUERIES_PER_RANGE, statements


def test_late_deliveries_by_province_by_hand(database):
    # Shipped 1 Dec 10:00 (now 10 Dec): to 浙江 one in 24 h, one in 80 h, one never delivered;
    # to 广东 one in 50 h. Shipped 9 Dec 20:00 to 广东, undelivered: not due yet (72 h).
    shipped = at(1, 10)
    for delivered in (shipped + 24 * H, shipped + 80 * H, None):
        made = order(database, shipped - H, shipped)
        with database.write() as session:
            session.execute(update(Order).where(Order.id == made.id).values(delivered_at=delivered))
    for shipped_at, delivered in ((shipped, shipped + 50 * H), (at(9, 20), None)):
        made = order(database, shipped_at - H, shipped_at)
        with database.write() as session:
            address_id = session.scalar(select(Order.current_address_id).where(Order.id == made.id))
            session.execute(
                update(AddressVersion)
                .where(AddressVersion.id == address_id)
                .values(province="广东省")
            )
            session.execute(update(Order).where(Order.id == made.id).values(delivered_at=delivered))
    got = figures.late_deliveries_by_province(
        database, DayRange(date(2026, 12, 1), date(2026, 12, 9)), NOW
    )
    assert [(entry.province, entry.orders, entry.late) for entry in got] == [
        ("浙江省", 3, 2),
        ("广东省", 1, 0),
    ]
    assert got[0].rate == 2 / 3


def lined_order(database, lines):
    made = make_order(
        database,
        status=OrderStatus.SHIPPED,
        lines=[NewLine(sku, f"{sku} name", quantity, 1000) for sku, quantity in lines],
    )
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == made.id)
            .values(paid_at=at(2, 9), shipped_at=at(2, 12), placed_at=at(2, 8))
        )
    return made


def ask_back(database, made, sku, quantity, status):
    with database.write() as session:
        request = ReturnRequest(
            order_id=made.id,
            customer_id=made.customer_id,
            status=status,
            refund_type=RefundType.RETURN_AND_REFUND,
            reason="quality",
            amount_fen=1000,
        )
        session.add(request)
        session.flush()
        session.add(
            ReturnLine(
                return_id=request.id,
                order_line_id=line_ids(database, made.id)[sku],
                quantity=quantity,
            )
        )


def test_return_rate_by_sku_and_skus_bought_together_by_hand(database):
    # Units shipped: TEA 2+2+1 = 5, CUP 1+1 = 2, BOX 1. Asked back: TEA 1 (a CUP return was
    # rejected, so it does not count). Together: CUP+TEA on two orders, BOX+TEA on one.
    first = lined_order(database, [("TEA", 2), ("CUP", 1)])
    second = lined_order(database, [("TEA", 2), ("CUP", 1)])
    lined_order(database, [("BOX", 1), ("TEA", 1)])
    ask_back(database, first, "TEA", 1, ReturnStatus.IN_REVIEW)
    ask_back(database, second, "CUP", 1, ReturnStatus.REJECTED)
    days = DayRange(date(2026, 12, 1), date(2026, 12, 7))
    got = figures.returns_by_sku(database, days)
    assert [(row.sku, row.sold, row.returned) for row in got] == [
        ("TEA", 5, 1),
        ("CUP", 2, 0),
        ("BOX", 1, 0),
    ]
    assert got[0].rate == 1 / 5 and got[0].name == "TEA name"
    pairs = figures.bought_together(database, days)
    assert [(pair.first, pair.second, pair.orders) for pair in pairs] == [
        ("CUP", "TEA", 2),
        ("BOX", "TEA", 1),
    ]
    assert figures.bought_together(database, DayRange(date(2026, 11, 1), date(2026, 11, 7))) == []
