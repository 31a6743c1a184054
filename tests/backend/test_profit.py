"""Profit per order against sums worked out by hand, the day × channel totals and the losses."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import update

from backend import profit
from backend.clock import SHANGHAI
from backend.figures import DayRange
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, SalesChannel, Sku
from backend.orders.service import NewLine
from backend.profit import ProfitRules, parse_commissions
from backend.refunds.models import Refund, RefundState
from tests.factories import SYSTEM, create_shipment, make_order

RULES = ProfitRules(commission_bp={"taobao": 500, "jd": 800}, shipping_fen_per_parcel=800)
DAYS = DayRange(date(2026, 12, 1), date(2026, 12, 2))


def paid(database, channel, day, price, status=OrderStatus.SHIPPED, quantity=1):
    made = make_order(
        database,
        status=status,
        channel=channel,
        lines=[NewLine("TEA-1", "龙井", quantity, price)],
    )
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == made.id)
            .values(
                paid_at=datetime(2026, 12, day, 10, tzinfo=SHANGHAI),
                paid_fen=price * quantity,
            )
        )
    return made


@pytest.fixture
def cost(database):
    with database.write() as session:
        sku = session.query(Sku).filter_by(code="TEA-1").one_or_none()
        if sku is None:
            session.add(Sku(code="TEA-1", name="龙井", cost_fen=4000))
        else:
            sku.cost_fen = 4000


def test_each_order_by_hand(database, cost):
    # A: taobao, ¥100 paid, shipped in one parcel (factory: shipped has one). Cost 40.00,
    #    commission 5% of 100 = 5.00, shipping 8.00 -> 47.00.
    a = paid(database, SalesChannel.TAOBAO, 1, 10_000)
    # B: jd, ¥50 paid, shipped, ¥30 refunded. Cost 40, commission 8% of 20 = 1.60,
    #    shipping 8, refund 30 -> 50 - 40 - 1.60 - 8 - 30 = -29.60.
    b = paid(database, SalesChannel.JD, 2, 5_000)
    with database.write() as session:
        session.add_all(
            [
                Refund(
                    order_id=b.id,
                    gateway="wechatpay",
                    out_refund_no="P-B",
                    amount_fen=3_000,
                    status=RefundState.SUCCESS,
                ),
                Refund(
                    order_id=b.id,
                    gateway="wechatpay",
                    out_refund_no="P-B2",
                    amount_fen=1_000,
                    status=RefundState.FAILED,
                ),
            ]
        )
    # C: taobao, ¥80 paid, never shipped (paid): no goods cost, no parcel; 5% of 80 = 4 -> 76.
    c = paid(database, SalesChannel.TAOBAO, 1, 8_000, status=OrderStatus.PAID)
    # D: jd, ¥100, two parcels: 100 - 40 - 8 - 16 = 36.
    d = paid(database, SalesChannel.JD, 1, 10_000)
    create_shipment(database, d.id, "yunda", "YD-PROFIT-2", SYSTEM)
    got = {p.order_id: p for p in profit.order_profits(database, DAYS, RULES)}
    assert got[a.id].profit_fen == 4_700
    assert (got[b.id].commission_fen, got[b.id].refunded_fen, got[b.id].profit_fen) == (
        160,
        3_000,
        -2_960,
    )
    assert (got[c.id].cost_fen, got[c.id].shipping_fen, got[c.id].profit_fen) == (0, 0, 7_600)
    assert (got[d.id].shipping_fen, got[d.id].profit_fen) == (1_600, 3_600)
    heat = profit.profit_by_day_and_channel(list(got.values()))
    assert heat == {
        (date(2026, 12, 1), "taobao"): 4_700 + 7_600,
        (date(2026, 12, 2), "jd"): -2_960,
        (date(2026, 12, 1), "jd"): 3_600,
    }
    assert [p.order_id for p in profit.loss_making(list(got.values()))] == [b.id]


def test_commission_rates_are_percent_pairs_and_garbage_is_refused():
    assert parse_commissions("taobao=5, jd=8.5,") == {"taobao": 500, "jd": 850}
    for bad in ("taobao", "taobao=five", "jd=120", "=5", "taobo=5"):
        with pytest.raises(ValueError):
            parse_commissions(bad)
