"""Named value converters for channel payloads: money to fen, times to UTC, ids, mobiles."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from backend.orders.address_fields import has_control_characters
from backend.phones import normalize_mobile

# China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact for
# every channel timestamp and needs no tzdata on the host.
# orders.total_fen is a 32-bit INTEGER on PostgreSQL (max 2,147,483,647); ten million yuan
# leaves room for a sum of lines and is far above any hand-taken or marketplace order.
MAX_FEN = 1_000_000_000
# orders.channel_order_no and order_lines.sku are VARCHAR(64).
MAX_IDENTIFIER_LENGTH = 64
MAX_QUANTITY = 100_000

# Plain decimal yuan as channels send it: "12", "12.3", "12.34"; no sign, exponent or grouping,
# because "1,234.00" or "1e3" in a price field means the payload is not what we think it is.
_YUAN = re.compile(r"[0-9]{1,12}(?:\.[0-9]+)?")
_DIGITS = re.compile(r"[0-9]{1,18}")
# Taobao "135*******", JD "138****1234", Douyin mask_post_tel: a masked number, kept verbatim.
_MASKED_PHONE = re.compile(r"[\d+\- ]*\*[\d*+\- ]*")
_POSTAL_CODE = re.compile(r"\d{6}")
# "2024-05-01 10:00:00", JD's "2021-05-07 09:20:39.683+0800"; both are China time when bare.
_CHINA_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,6})?\s*([+-]\d{2}:?\d{2})?"
)


class ConversionFailed(ValueError):
    """A value could not be converted; `reason` is a stable code such as "too_many_decimals"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def to_text(value: object) -> str:
    """A non-empty trimmed string without control characters; numbers are not text."""
    if not isinstance(value, str):
        raise ConversionFailed("not_text")
    text = value.strip()
    if not text:
        raise ConversionFailed("missing")
    if has_control_characters(text):
        raise ConversionFailed("control_characters")
    return text


def to_code(value: object) -> str:
    """A status or enum code, which some channels send as a number (Douyin 105, PDD 1)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return to_text(value)


def to_identifier(value: object) -> str:
    """An order number or SKU: text or an integer id (Shopify ids pass 2**53; ints stay exact)."""
    identifier = to_code(value)
    if len(identifier) > MAX_IDENTIFIER_LENGTH:
        raise ConversionFailed("too_long")
    if any(character.isspace() for character in identifier):
        raise ConversionFailed("contains_whitespace")
    return identifier


def _ascii_digits(text: str) -> str:
    # Chinese input methods type full-width digits (１２.３４); NFKC makes them ASCII.
    return unicodedata.normalize("NFKC", text).strip()


def _decimal_of(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ConversionFailed("not_a_number")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        # JSON numbers (PDD sends yuan as numbers) arrive as floats; repr is the shortest string
        # that reads back as the same double, i.e. the digits that were on the wire.
        return Decimal(repr(value))
    if not isinstance(value, str):
        raise ConversionFailed("not_a_number")
    text = _ascii_digits(value)
    if text.startswith("-") and _YUAN.fullmatch(text[1:]):
        raise ConversionFailed("negative")
    if not _YUAN.fullmatch(text):
        raise ConversionFailed("not_a_number")
    return Decimal(text)


def yuan_to_fen(value: object) -> int:
    """'12.34' -> 1234 with Decimal only; a third decimal, a sign or garbage is refused."""
    try:
        amount = _decimal_of(value)
    except InvalidOperation:
        raise ConversionFailed("not_a_number") from None
    if not amount.is_finite():
        raise ConversionFailed("not_a_number")
    if amount < 0:
        raise ConversionFailed("negative")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ConversionFailed("too_many_decimals")
    return _bounded_fen(int(fen))


def fen_amount(value: object) -> int:
    """Douyin sends money as integer fen already; a string of digits is accepted too."""
    if isinstance(value, str) and value.strip().startswith("-"):
        raise ConversionFailed("negative")
    return _bounded_fen(_integer(value))


def _bounded_fen(fen: int) -> int:
    if fen < 0:
        raise ConversionFailed("negative")
    if fen > MAX_FEN:
        raise ConversionFailed("too_large")
    return fen


def _integer(value: object) -> int:
    if isinstance(value, bool):
        raise ConversionFailed("not_an_integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(_ascii_digits(value)):
        return int(_ascii_digits(value))
    if isinstance(value, float | Decimal):
        # Spreadsheets store every number as a double: 2 arrives as 2.0.
        try:
            whole = int(value)
        except (OverflowError, ValueError):
            raise ConversionFailed("not_an_integer") from None
        if whole == value:
            return whole
    raise ConversionFailed("not_an_integer")


def to_quantity(value: object) -> int:
    quantity = _integer(value)
    if quantity <= 0:
        raise ConversionFailed("not_positive")
    if quantity > MAX_QUANTITY:
        raise ConversionFailed("too_large")
    return quantity


def to_mobile(value: object) -> str:
    """An 11-digit mainland mobile, or a channel's masked number kept as sent (see risk hints)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # spreadsheets turn 13800138000 into a number
    text = to_text(value)
    mobile = normalize_mobile(text)
    if mobile is not None:
        return mobile
    if _MASKED_PHONE.fullmatch(text) and sum(ch.isdigit() for ch in text) >= 3:
        return text
    raise ConversionFailed("not_a_mainland_mobile")


def to_postal_code(value: object) -> str | None:
    """Six digits, or nothing: no label needs it, so a typo must not cost the whole order."""
    text = str(value).strip() if isinstance(value, str | int) else ""
    return text if _POSTAL_CODE.fullmatch(text) else None


def iso_to_utc(value: object) -> datetime:
    """ISO 8601 with an offset (Shopify) as aware UTC; a time without offset is ambiguous."""
    text = to_text(value)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ConversionFailed("not_a_time") from None
    if parsed.tzinfo is None:
        raise ConversionFailed("time_without_offset")
    return parsed.astimezone(UTC)


def china_time_to_utc(value: object) -> datetime:
    """'2024-05-01 10:00:00' in China time (TOP, JD, PDD) as aware UTC."""
    match = _CHINA_TIME.fullmatch(to_text(value))
    if match is None:
        raise ConversionFailed("not_a_time")
    day, clock, fraction, offset = match.groups()
    text = f"{day}T{clock}{fraction or ''}{offset or '+08:00'}"
    if offset and ":" not in offset:
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise ConversionFailed("not_a_time") from None


def unix_seconds_to_utc(value: object) -> datetime | None:
    """Douyin's unix seconds as aware UTC; 0 is how it says "not yet" (an unpaid pay_time)."""
    seconds = _integer(value)
    if seconds == 0:
        return None
    if seconds < 0:
        raise ConversionFailed("not_a_time")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ConversionFailed("not_a_time") from None


Converter = Callable[[object], object]

CONVERTERS: MappingProxyType[str, Converter] = MappingProxyType(
    {
        "text": to_text,
        "code": to_code,
        "identifier": to_identifier,
        "yuan": yuan_to_fen,
        "fen": fen_amount,
        "quantity": to_quantity,
        "mobile": to_mobile,
        "postal_code": to_postal_code,
        "iso_time": iso_to_utc,
        "china_time": china_time_to_utc,
        "unix_seconds": unix_seconds_to_utc,
    }
)


def convert(name: str, value: object) -> object:
    """Run the converter registered under `name`; an unknown name is a bug in a mapping table."""
    return CONVERTERS[name](value)
