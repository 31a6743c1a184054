"""The monthly finance CSV: orders, refunds and payment fees of one Shanghai calendar month."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import select

from backend import audit
from backend.actors import Actor
from backend.clock import SHANGHAI
from backend.db import Database
from backend.orders.models import Order, PaymentMethod
from backend.refunds.models import Refund
from backend.staff.permissions import Permission, check_permission

# Standard rates for WeChat Pay and Alipay merchants (0.6%); contracts differ, so the column
# says "estimated". Marketplace orders are settled by the platform: no fee of ours to show.
FEE_RATE = {PaymentMethod.WECHAT_PAY: 0.006, PaymentMethod.ALIPAY: 0.006}
HEADER = ("类型", "单号", "渠道", "时间", "金额(元)", "状态", "手续费(元, 估算)")


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{cents:02d}"


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=SHANGHAI)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def export_month_csv(database: Database, year: int, month: int, actor: Actor) -> str:
    """The month's CSV for staff who may export finance data; each download is audited.

    Read first, then audited in a short write, so the export never holds SQLite's write
    lock; a failed audit write raises, and nothing unaudited leaves.
    """
    check_permission(actor, Permission.EXPORT_FINANCE)
    text = month_csv(database, year, month)
    with database.write() as session:
        audit.record(
            session,
            actor,
            "finance.exported",
            subject="finance_export",
            subject_id=f"{year}-{month:02d}",
            after={"month": f"{year}-{month:02d}", "bytes": len(text.encode("utf-8"))},
        )
    return text


def month_csv(database: Database, year: int, month: int) -> str:
    """UTF-8 with a byte-order mark so Excel on Chinese Windows opens it right."""
    start, end = _month(year, month)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    with database.read() as session:
        orders = session.execute(
            select(
                Order.public_no,
                Order.channel,
                Order.paid_at,
                Order.paid_fen,
                Order.status,
                Order.payment_method,
            )
            .where(Order.paid_at >= start, Order.paid_at < end)
            .order_by(Order.paid_at)
        ).all()
        refunds = session.execute(
            select(
                Refund.out_refund_no,
                Order.channel,
                Refund.succeeded_at,
                Refund.amount_fen,
                Refund.status,
            )
            .join(Order, Order.id == Refund.order_id)
            .where(Refund.created_at >= start, Refund.created_at < end)
            .order_by(Refund.created_at)
        ).all()
    for number, channel, paid_at, paid, status, method in orders:
        rate = FEE_RATE.get(PaymentMethod(method)) if method else None
        fee = _yuan(round(paid * rate)) if rate else ""
        writer.writerow(
            (
                "订单",
                number,
                channel,
                paid_at.astimezone(SHANGHAI).isoformat(" ") if paid_at else "",
                _yuan(paid),
                status,
                fee,
            )
        )
    for number, channel, done_at, amount, refund_state in refunds:
        when = done_at.astimezone(SHANGHAI).isoformat(" ") if done_at else ""
        writer.writerow(("退款", number, channel, when, _yuan(-amount), str(refund_state), ""))
    return out.getvalue()
