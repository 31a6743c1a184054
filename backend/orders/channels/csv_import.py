"""Hand-taken orders from a CSV or .xlsx sheet, grouped by 订单号, with errors row by row.

The sheet's first row is the header; columns may come in any order and extra columns are
ignored. Required: 订单号,收货人,手机,省,市,区,详细地址,商品编码,商品名称,数量,单价(元);
optional: 邮编. One row is one order line; rows sharing an 订单号 are one order. The first row
of an order carries its recipient; later rows may leave those cells blank or repeat them, but
not contradict them. An order with any bad row is left out whole, never imported short a line.
Row numbers are the spreadsheet's (header = 1); row 0 is the file itself.
"""

from __future__ import annotations

import csv
import io
import itertools
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree.ElementTree import ParseError

from backend.orders.address_fields import (
    AddressFieldInvalid,
    validate_mainland_mobile,
    validate_recipient_name,
    validate_street,
)
from backend.orders.channels.canonical import CanonicalAddress, CanonicalLine, CanonicalOrder
from backend.orders.channels.converters import (
    MAX_FEN,
    ConversionFailed,
    to_identifier,
    to_postal_code,
    to_quantity,
    to_text,
    yuan_to_fen,
)
from backend.orders.divisions import get_division_code
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import SalesChannel

ORDER_NO, RECIPIENT, MOBILE = "订单号", "收货人", "手机"
PROVINCE, CITY, DISTRICT, STREET, POSTAL_CODE = "省", "市", "区", "详细地址", "邮编"
SKU, NAME, QUANTITY, UNIT_PRICE = "商品编码", "商品名称", "数量", "单价(元)"
REQUIRED_COLUMNS = (
    *(ORDER_NO, RECIPIENT, MOBILE, PROVINCE, CITY, DISTRICT, STREET),
    *(SKU, NAME, QUANTITY, UNIT_PRICE),
)
ORDER_COLUMNS = (RECIPIENT, MOBILE, PROVINCE, CITY, DISTRICT, STREET, POSTAL_CODE)
# A hand-kept sheet is tens or hundreds of rows; the cap bounds what one upload can cost.
MAX_ROWS = 5000
FILE_ROW = 0

_VALIDATORS: dict[str, Callable[[str], object]] = {
    ORDER_NO: to_identifier,
    RECIPIENT: validate_recipient_name,
    MOBILE: validate_mainland_mobile,
    PROVINCE: to_text,
    CITY: to_text,
    DISTRICT: to_text,
    STREET: validate_street,
    POSTAL_CODE: to_postal_code,
    SKU: to_identifier,
    NAME: to_text,
    QUANTITY: to_quantity,
    UNIT_PRICE: yuan_to_fen,
}


@dataclass(frozen=True)
class RowError:
    row: int
    column: str  # the header name, "" when the row or file as a whole is wrong
    code: str  # stable, e.g. "required", "too_many_decimals", "mobile_number_invalid"


@dataclass
class _Draft:
    first_row: int
    fields: dict[str, object]
    lines: list[CanonicalLine] = field(default_factory=list)
    broken: bool = False


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # Spreadsheets keep numbers as doubles: an order number 1001 arrives as 1001.0.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return unicodedata.normalize("NFC", str(value)).strip()


def header_name(value: object) -> str:
    # NFKC folds the full-width brackets of 单价（元） that Chinese input methods type.
    return unicodedata.normalize("NFKC", cell_text(value)).replace(" ", "")


def _check(column: str, text: str) -> object:
    """The column's value, or raises with a stable code (ValueError carries it)."""
    try:
        value = _VALIDATORS[column](text)
    except AddressFieldInvalid as invalid:
        raise ValueError(invalid.code) from None
    except ConversionFailed as failure:
        raise ValueError(failure.reason) from None
    # Channels' postal codes are dropped when odd; a sheet's typist can fix theirs now.
    if value is None:
        raise ValueError("postal_code_invalid")
    return value


class _Importer:
    def __init__(self, channel: SalesChannel) -> None:
        self.channel = channel
        self.errors: list[RowError] = []
        self.columns: dict[str, int] = {}
        self.drafts: dict[str, _Draft] = {}

    def read_header(self, cells: Sequence[object]) -> bool:
        for index, cell in enumerate(cells):
            name = header_name(cell)
            if name in self.columns:
                self.errors.append(RowError(1, name, "duplicate_column"))
            elif name:
                self.columns[name] = index
        for name in REQUIRED_COLUMNS:
            if name not in self.columns:
                self.errors.append(RowError(1, name, "missing_column"))
        return not self.errors

    def read_row(self, number: int, cells: Sequence[object]) -> None:
        texts = {
            name: cell_text(cells[index]) if index < len(cells) else ""
            for name, index in self.columns.items()
        }
        if not any(texts.values()):
            return
        errors_before = len(self.errors)
        order_no = self._value(number, texts, ORDER_NO)
        line = self._line(number, texts)
        if order_no is None:
            return
        draft = self.drafts.get(str(order_no))
        if draft is None:
            draft = self.drafts[str(order_no)] = _Draft(number, self._order_fields(number, texts))
        else:
            self._compare_with_first_row(number, texts, draft)
        if line is None or len(self.errors) > errors_before:
            draft.broken = True
        else:
            draft.lines.append(line)

    def _value(self, number: int, texts: dict[str, str], column: str) -> object:
        if not texts.get(column):
            if column != POSTAL_CODE:
                self.errors.append(RowError(number, column, "required"))
            return None
        try:
            return _check(column, texts[column])
        except ValueError as error:
            self.errors.append(RowError(number, column, str(error)))
            return None

    def _line(self, number: int, texts: dict[str, str]) -> CanonicalLine | None:
        sku, name, quantity, price = (
            self._value(number, texts, column) for column in (SKU, NAME, QUANTITY, UNIT_PRICE)
        )
        if not (isinstance(sku, str) and isinstance(name, str)):
            return None
        if not (isinstance(quantity, int) and isinstance(price, int)):
            return None
        return CanonicalLine(channel_sku=sku, name=name, quantity=quantity, unit_price_fen=price)

    def _order_fields(self, number: int, texts: dict[str, str]) -> dict[str, object]:
        values = {column: self._value(number, texts, column) for column in ORDER_COLUMNS}
        if all(values[column] is not None for column in (PROVINCE, CITY, DISTRICT)):
            self._check_division(number, values)
        return values

    def _check_division(self, number: int, values: dict[str, object]) -> None:
        province, city, district = (str(values[c]) for c in (PROVINCE, CITY, DISTRICT))
        # Only names that exist route to a carrier; the sheet is fixed by the one who typed it.
        if get_division_code(province) is None:
            self.errors.append(RowError(number, PROVINCE, "unknown_province"))
        elif get_division_code(province, city) is None:
            self.errors.append(RowError(number, CITY, "unknown_city"))
        elif get_division_code(province, city, district) is None:
            self.errors.append(RowError(number, DISTRICT, "unknown_district"))

    def _compare_with_first_row(self, number: int, texts: dict[str, str], draft: _Draft) -> None:
        for column in ORDER_COLUMNS:
            if not texts.get(column):
                continue
            try:
                value = _check(column, texts[column])
            except ValueError as error:
                self.errors.append(RowError(number, column, str(error)))
                continue
            if draft.fields[column] is not None and value != draft.fields[column]:
                self.errors.append(RowError(number, column, "conflicts_with_first_row"))

    def finish(self) -> list[CanonicalOrder]:
        orders = []
        for order_no, draft in self.drafts.items():
            if draft.broken:
                continue
            total = sum(line.quantity * line.unit_price_fen for line in draft.lines)
            if total > MAX_FEN:
                self.errors.append(RowError(draft.first_row, UNIT_PRICE, "order_total_too_large"))
                continue
            orders.append(self._order(order_no, draft, total))
        return orders

    def _order(self, order_no: str, draft: _Draft, total: int) -> CanonicalOrder:
        text = {column: str(value) for column, value in draft.fields.items() if value is not None}
        address = CanonicalAddress(
            recipient_name=text[RECIPIENT],
            phone=text[MOBILE],
            province=text[PROVINCE],
            city=text[CITY],
            district=text[DISTRICT],
            street=text[STREET],
            postal_code=text.get(POSTAL_CODE),
        )
        return CanonicalOrder(
            channel=self.channel,
            channel_order_no=order_no,
            # Nothing in the sheet says the money arrived; paying is a separate, audited step.
            status=OrderStatus.PENDING_PAYMENT,
            raw_status="",
            buyer_name=address.recipient_name,
            buyer_phone=address.phone,
            address=address,
            lines=tuple(draft.lines),
            total_fen=total,
            placed_at=None,
            paid_at=None,
            updated_at=None,
        )


def parse_order_rows(
    rows: Iterable[Sequence[object]], channel: SalesChannel = SalesChannel.MANUAL
) -> tuple[list[CanonicalOrder], list[RowError]]:
    """Header row then data rows, as cells; every bad cell is reported, good orders returned."""
    importer = _Importer(channel)
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None:
        return [], [RowError(FILE_ROW, "", "empty_file")]
    if not importer.read_header(header):
        return [], importer.errors
    for offset, cells in enumerate(iterator):
        if offset >= MAX_ROWS:
            importer.errors.append(RowError(offset + 2, "", "too_many_rows"))
            return [], importer.errors
        importer.read_row(offset + 2, cells)
    return importer.finish(), importer.errors


def parse_order_csv(
    text: str, channel: SalesChannel = SalesChannel.MANUAL
) -> tuple[list[CanonicalOrder], list[RowError]]:
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        return parse_order_rows(rows, channel)
    except csv.Error:
        return [], [RowError(FILE_ROW, "", "unreadable_file")]


def decode_csv(data: bytes) -> str | None:
    """UTF-8 (with or without BOM), else GB18030: Excel on Chinese Windows saves CSV as GBK."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


class TableUnreadable(ValueError):
    """The upload is no table we can read: `code` is unreadable_file or unsupported_file_type."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def read_xlsx_rows(data: bytes, limit: int = MAX_ROWS + 2) -> list[tuple[object, ...]]:
    """The first worksheet's first `limit` rows (header included); needs openpyxl."""
    # Imported here so that CSV-only installs (and their tests) work without openpyxl.
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            # Read-only workbooks parse lazily, so a damaged sheet can fail while iterating.
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            return [tuple(row) for row in itertools.islice(rows, limit)]
        finally:
            workbook.close()
    except (InvalidFileException, zipfile.BadZipFile, ParseError, OSError, LookupError, ValueError):
        raise TableUnreadable("unreadable_file") from None


def read_table(filename: str, data: bytes, limit: int = MAX_ROWS + 2) -> list[Sequence[object]]:
    """A .csv (UTF-8, UTF-8 with BOM or GBK) or .xlsx upload as rows of cells, header first."""
    suffix = filename.lower().rsplit(".", 1)[-1]
    if suffix == "xlsx":
        return list(read_xlsx_rows(data, limit))
    if suffix != "csv":
        raise TableUnreadable("unsupported_file_type")
    text = decode_csv(data)
    if text is None:
        raise TableUnreadable("unreadable_file")
    try:
        rows = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
        return list(itertools.islice(rows, limit))
    except csv.Error:
        raise TableUnreadable("unreadable_file") from None


def parse_order_xlsx(
    data: bytes, channel: SalesChannel = SalesChannel.MANUAL
) -> tuple[list[CanonicalOrder], list[RowError]]:
    """The first worksheet of an .xlsx file."""
    try:
        # One row past the cap, so that parse_order_rows sees and reports too_many_rows.
        rows = read_xlsx_rows(data, MAX_ROWS + 2)
    except TableUnreadable as unreadable:
        return [], [RowError(FILE_ROW, "", unreadable.code)]
    return parse_order_rows(rows, channel)


def parse_order_file(
    filename: str, data: bytes, channel: SalesChannel = SalesChannel.MANUAL
) -> tuple[list[CanonicalOrder], list[RowError]]:
    """Dispatch on the file name's extension: .csv or .xlsx."""
    suffix = filename.lower().rsplit(".", 1)[-1]
    if suffix == "xlsx":
        return parse_order_xlsx(data, channel)
    if suffix != "csv":
        return [], [RowError(FILE_ROW, "", "unsupported_file_type")]
    text = decode_csv(data)
    if text is None:
        return [], [RowError(FILE_ROW, "", "unreadable_file")]
    return parse_order_csv(text, channel)
