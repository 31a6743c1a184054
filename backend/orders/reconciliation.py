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
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.orders.channels.converters import ConversionFailed, yuan_to_fen
from backend.orders.models import Order, ReconciliationReport, Shop
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


def reconcile_export(
    database: Database,
    channel: str,
    day: date,
    text: str,
    actor: Actor,
    shop_id: int | None = None,
) -> int:
    """Compare one channel's (or one shop's) export for one Shanghai day; returns the report id.

    A seller centre exports one store, so with `shop_id` only that shop's orders count.
    """
    check_permission(actor, Permission.RECONCILE_CHANNELS, also=(ActorKind.SYSTEM,))
    rows = parse_export(text)
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    with database.write() as session:
        query = select(Order.channel_order_no, Order.status, Order.paid_fen).where(
            Order.channel == channel,
            Order.placed_at >= start,
            Order.placed_at < start + timedelta(days=1),
        )
        if shop_id is not None:
            query = query.where(Order.shop_id == shop_id)
        stored = {number: (str(status), paid) for number, status, paid in session.execute(query)}
        report = ReconciliationReport(
            channel=channel,
            shop_id=shop_id,
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
                "shop_id": shop_id,
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


def _folder_owner(session: Session, name: str) -> tuple[str, int | None]:
    """(channel, shop id) for an export folder named by a shop code, else by a channel.

    A default shop is coded like its channel; its folder keeps comparing the whole channel,
    as before shops.
    """
    shop = session.scalars(select(Shop).where(Shop.code == name)).first()
    if shop is None or shop.code == str(shop.channel):
        return name, None
    return str(shop.channel), shop.id


def reconcile_dropped_exports(database: Database, folder: str, now: datetime | None = None) -> int:
    """Daily job: `<folder>/<channel or shop code>/<YYYY-MM-DD>.csv` for yesterday, once each."""
    day = ((now or utcnow()).astimezone(SHANGHAI) - timedelta(days=1)).date()
    made = 0
    for path in sorted(Path(folder).glob(f"*/{day.isoformat()}.csv")):
        with database.read() as session:
            channel, shop_id = _folder_owner(session, path.parent.name)
            done = session.scalar(
                select(ReconciliationReport.id).where(
                    ReconciliationReport.channel == channel,
                    ReconciliationReport.shop_id.is_(None)
                    if shop_id is None
                    else ReconciliationReport.shop_id == shop_id,
                    ReconciliationReport.day == day,
                )
            )
        if done is None:
            text = path.read_text(encoding="utf-8-sig")
            actor = Actor.system("reconciliation")
            reconcile_export(database, channel, day, text, actor, shop_id)
            made += 1
    return made
