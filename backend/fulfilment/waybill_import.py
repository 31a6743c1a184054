"""Waybills from a staff member's CSV or .xlsx file: one parcel per (订单号, 运单号), row by row.

Columns, in any order, extra ones ignored: 订单号 (our public number, the channel's order
number, or "channel:number"), 快递公司 (our code or the carrier's name), 运单号; optional
商品编码 + 数量 say what the parcel carries (without them: all that is left). Rows with the
same order and waybill are one parcel with several lines. Each parcel is its own
record_waybill transaction, so a bad row never stops the good ones; a file that is not a
table with these headers is refused whole. Row numbers are the spreadsheet's (header = 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from backend import audit
from backend.actors import Actor
from backend.db import Database
from backend.fulfilment.outside import (
    BAD_QUANTITY,
    CREATED,
    MISSING_ORDER,
    MISSING_WAYBILL,
    REFUSED,
    REPEAT,
    OutsideParcel,
    record_outside_parcel,
)
from backend.fulfilment.waybills import WaybillSource
from backend.logistics.carriers.recognition import normalize_number
from backend.orders.channels.converters import ConversionFailed, to_quantity
from backend.orders.channels.csv_import import (
    MAX_ROWS,
    TableUnreadable,
    cell_text,
    header_name,
    read_table,
)
from backend.staff.permissions import Permission, check_permission

ORDER_NO, CARRIER, WAYBILL, SKU, QUANTITY = "订单号", "快递公司", "运单号", "商品编码", "数量"
REQUIRED_COLUMNS = (ORDER_NO, CARRIER, WAYBILL)


class WaybillFileRefused(ValueError):
    """Not a table with the needed headers; `code` says why, `columns` which are missing."""

    def __init__(self, code: str, columns: tuple[str, ...] = ()) -> None:
        super().__init__(code)
        self.code = code
        self.columns = columns


@dataclass(frozen=True)
class ImportedParcel:
    rows: tuple[int, ...]
    order: str
    waybill: str
    outcome: str  # created | repeat | refused
    reason: str | None = None
    public_no: str | None = None


@dataclass(frozen=True)
class WaybillImportResult:
    parcels: tuple[ImportedParcel, ...]
    rows: int

    def count(self, outcome: str) -> int:
        return sum(1 for parcel in self.parcels if parcel.outcome == outcome)


@dataclass
class _Draft:
    order: str
    carrier: str
    waybill: str
    rows: list[int] = field(default_factory=list)
    lines: list[tuple[str, int]] = field(default_factory=list)
    problem: str | None = None


def _columns(header: Sequence[object]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = header_name(cell)
        if name and name not in columns:
            columns[name] = index
    missing = tuple(name for name in REQUIRED_COLUMNS if name not in columns)
    if missing:
        raise WaybillFileRefused("missing_column", missing)
    return columns


def _read_row(texts: dict[str, str], number: int, drafts: dict[tuple[str, str], _Draft]) -> None:
    order, waybill = texts.get(ORDER_NO, ""), normalize_number(texts.get(WAYBILL, ""))
    draft = drafts.setdefault((order, waybill), _Draft(order, texts.get(CARRIER, ""), waybill))
    draft.rows.append(number)
    if not order:
        draft.problem = draft.problem or MISSING_ORDER
    if not waybill:
        draft.problem = draft.problem or MISSING_WAYBILL
    sku = texts.get(SKU, "")
    if not sku:
        return
    try:
        draft.lines.append((sku, to_quantity(texts.get(QUANTITY, ""))))
    except ConversionFailed:
        draft.problem = draft.problem or BAD_QUANTITY


def parse_waybill_rows(rows: Sequence[Sequence[object]]) -> list[_Draft]:
    if not rows:
        raise WaybillFileRefused("empty_file")
    if len(rows) > MAX_ROWS + 1:
        raise WaybillFileRefused("too_many_rows")
    columns = _columns(rows[0])
    drafts: dict[tuple[str, str], _Draft] = {}
    for offset, cells in enumerate(rows[1:]):
        texts = {
            name: cell_text(cells[index]) if index < len(cells) else ""
            for name, index in columns.items()
        }
        if any(texts.values()):
            _read_row(texts, offset + 2, drafts)
    return list(drafts.values())


def _record(database: Database, draft: _Draft, actor: Actor) -> ImportedParcel:
    rows = tuple(draft.rows)
    if draft.problem is not None:
        return ImportedParcel(rows, draft.order, draft.waybill, REFUSED, draft.problem)
    parcel = OutsideParcel(
        draft.order, draft.carrier, draft.waybill, tuple(draft.lines), row=rows[0]
    )
    result = record_outside_parcel(database, parcel, actor, WaybillSource.IMPORT)
    return ImportedParcel(
        rows, draft.order, result.waybill, result.outcome, result.reason, result.public_no
    )


def import_waybill_file(
    database: Database, filename: str, data: bytes, actor: Actor
) -> WaybillImportResult:
    """Every parcel of the file through record_waybill; the file is audited once at the end."""
    check_permission(actor, Permission.RECORD_WAYBILLS)
    try:
        drafts = parse_waybill_rows(read_table(filename, data))
    except TableUnreadable as unreadable:
        raise WaybillFileRefused(unreadable.code) from None
    parcels = tuple(_record(database, draft, actor) for draft in drafts)
    result = WaybillImportResult(parcels, sum(len(draft.rows) for draft in drafts))
    with database.write() as session:
        audit.record(
            session,
            actor,
            "waybills.imported",
            subject="import",
            subject_id=filename[:64],
            after={
                "file": filename,
                "rows": result.rows,
                "parcels": len(parcels),
                "created": result.count(CREATED),
                "repeat": result.count(REPEAT),
                "refused": result.count(REFUSED),
            },
        )
    return result
