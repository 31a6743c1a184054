"""Daily reconciliation of each channel's order export against stored orders, and finance CSVs.

Merchants download the day's order export from each platform's seller centre; the
files land in an exports folder (or are uploaded by staff) and this compares them with
what the portal stored: orders only one side knows, and status or amount differences.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.orders.channels.converters import ConversionFailed, yuan_to_fen
from backend.orders.models import Order, ReconciliationReport
from backend.staff.permissions import Permission, check_permission

EXPORT_COLUMNS = ("订单号", "状态", "实付金额")


class ExportUnreadable(ValueError):
    """The export has not the columns 订单号, 状态, 实付金额, or not as text."""


@dataclass(frozen=True)
class ExportRow:
    channel_order_no: str
    status: str
    paid_fen: int


@dataclass(frozen=True)
class Difference:
    channel_order_no: str
    kind: str  # only_in_export | only_here | amount | status
    export_value: str
    stored_value: str


def parse_export(text: str) -> list[ExportRow]:
    """A platform export as CSV with the three columns every seller centre offers."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or not set(EXPORT_COLUMNS) <= {f.strip() for f in reader.fieldnames}:
        raise ExportUnreadable("columns")
    rows = []
    for record in reader:
        clean = {key.strip(): (value or "").strip() for key, value in record.items() if key}
        try:
            paid = yuan_to_fen(clean["实付金额"])
        except ConversionFailed:
            raise ExportUnreadable(f"amount {clean['实付金额']!r}") from None
        rows.append(ExportRow(clean["订单号"], clean["状态"], paid))
    return rows


# What the platforms' exports write for the statuses we compare (the rest is not judged).
EXPORT_STATUS_CLOSED = ("已关闭", "交易关闭", "已取消", "TRADE_CLOSED", "cancelled")


def compare(rows: Iterable[ExportRow], stored: dict[str, tuple[str, int]]) -> list[Difference]:
    """Pure: the export against {channel order no: (our status, paid fen)}."""
    seen, differences = set(), []
    for row in rows:
        seen.add(row.channel_order_no)
        mine = stored.get(row.channel_order_no)
        if mine is None:
            differences.append(Difference(row.channel_order_no, "only_in_export", row.status, ""))
            continue
        status, paid = mine
        if row.paid_fen != paid and status != "cancelled":
            differences.append(
                Difference(row.channel_order_no, "amount", str(row.paid_fen), str(paid))
            )
        if (row.status in EXPORT_STATUS_CLOSED) != (status == "cancelled"):
            differences.append(Difference(row.channel_order_no, "status", row.status, status))
    for number in sorted(set(stored) - seen):
        differences.append(Difference(number, "only_here", "", stored[number][0]))
    return differences


def reconcile_export(database: Database, channel: str, day: date, text: str, actor: Actor) -> int:
    """Compare one channel's export for one Shanghai day; stores and returns the report id."""
    check_permission(actor, Permission.RECONCILE_CHANNELS, also=(ActorKind.SYSTEM,))
    rows = parse_export(text)
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    with database.write() as session:
        stored = {
            number: (str(status), paid)
            for number, status, paid in session.execute(
                select(Order.channel_order_no, Order.status, Order.paid_fen).where(
                    Order.channel == channel,
                    Order.placed_at >= start,
                    Order.placed_at < start + timedelta(days=1),
                )
            )
        }
        report = ReconciliationReport(
            channel=channel,
            day=day,
            rows_in_export=len(rows),
            differences=[asdict(d) for d in compare(rows, stored)],
        )
        session.add(report)
        session.flush()
        audit.record(
            session,
            actor,
            "reconciliation.compared",
            subject="reconciliation_report",
            subject_id=report.id,
            after={
                "channel": channel,
                "day": day.isoformat(),
                "rows": len(rows),
                "differences": len(report.differences),
            },
        )
        return report.id


def list_reports(database: Database, limit: int = 60) -> list[ReconciliationReport]:
    with database.read() as session:
        return list(
            session.scalars(
                select(ReconciliationReport).order_by(ReconciliationReport.id.desc()).limit(limit)
            )
        )


def reconcile_dropped_exports(database: Database, folder: str, now: datetime | None = None) -> int:
    """Daily job: `<folder>/<channel>/<YYYY-MM-DD>.csv` for yesterday, each compared once."""
    day = ((now or utcnow()).astimezone(SHANGHAI) - timedelta(days=1)).date()
    made = 0
    for path in sorted(Path(folder).glob(f"*/{day.isoformat()}.csv")):
        channel = path.parent.name
        with database.read() as session:
            done = session.scalar(
                select(ReconciliationReport.id).where(
                    ReconciliationReport.channel == channel, ReconciliationReport.day == day
                )
            )
        if done is None:
            text = path.read_text(encoding="utf-8-sig")
            reconcile_export(database, channel, day, text, Actor.system("reconciliation"))
            made += 1
    return made
