"""Reconciliation against channel exports, and the monthly finance CSV."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update

from backend.finance_export import month_csv
from backend.orders.models import Order
from backend.orders.reconciliation import (
    Difference,
    ExportRow,
    ExportUnreadable,
    compare,
    list_reports,
    parse_export,
    reconcile_dropped_exports,
)
from tests.factories import make_order

EXPORT = (
    "\ufeff订单号,状态,实付金额,买家留言\n"
    "T1,交易成功,256.00,\nT2,交易关闭,99.00,\nT9,交易成功,10.00,快点发货\n"
)


def test_an_export_is_read_with_its_chinese_columns():
    assert parse_export(EXPORT)[0] == ExportRow("T1", "交易成功", 25_600)


@pytest.mark.parametrize("text", ["", "a,b,c\n1,2,3\n", "订单号,状态,实付金额\nT1,ok,abc\n"])
def test_an_unreadable_export_is_refused(text):
    with pytest.raises(ExportUnreadable):
        parse_export(text)


def test_every_kind_of_difference_is_found():
    stored = {"T1": ("paid", 25_600), "T2": ("paid", 9_900), "T3": ("shipped", 100)}
    differences = compare(parse_export(EXPORT), stored)
    assert differences == [
        Difference("T2", "status", "交易关闭", "paid"),
        Difference("T9", "only_in_export", "交易成功", ""),
        Difference("T3", "only_here", "", "shipped"),
    ]


def test_the_daily_job_compares_yesterdays_dropped_exports_once(database, tmp_path):
    order = make_order(database)  # channel taobao, T-number, paid 256.00
    placed = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    with database.write() as session:
        session.execute(update(Order).where(Order.id == order.id).values(placed_at=placed))
    folder = tmp_path / "taobao"
    folder.mkdir()
    (folder / "2026-11-20.csv").write_text(
        f"订单号,状态,实付金额\n{order.channel_order_no},交易成功,256.00\nX1,交易成功,1.00\n",
        encoding="utf-8",
    )
    now = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    assert reconcile_dropped_exports(database, str(tmp_path), now) == 1
    assert reconcile_dropped_exports(database, str(tmp_path), now) == 0
    (report,) = list_reports(database)
    assert (report.channel, report.day, report.rows_in_export) == ("taobao", date(2026, 11, 20), 2)
    assert [d["channel_order_no"] for d in report.differences] == ["X1"]


def test_the_finance_csv_lists_the_months_orders_with_estimated_fees(database):
    order = make_order(database)
    other_month = make_order(database)
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(paid_at=datetime(2026, 10, 31, 17, 0, tzinfo=UTC))
        )
        session.execute(
            update(Order)
            .where(Order.id == other_month.id)
            .values(paid_at=datetime(2026, 10, 31, 15, 0, tzinfo=UTC))
        )
    text = month_csv(database, 2026, 11)  # 17:00 UTC on 31 Oct is 01:00 on 1 Nov in Shanghai
    assert text.startswith("\ufeff类型,单号")
    assert f"订单,{order.public_no},taobao,2026-11-01 01:00:00+08:00,256.00,paid,1.54" in text
    assert other_month.public_no not in text
