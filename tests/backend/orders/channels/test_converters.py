"""Value converters: money to integer fen without floats, times to UTC, ids and mobiles."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backend.orders.channels.converters import (
    MAX_FEN,
    ConversionFailed,
    china_time_to_utc,
    fen_amount,
    iso_to_utc,
    to_identifier,
    to_mobile,
    to_postal_code,
    to_quantity,
    to_text,
    unix_seconds_to_utc,
    yuan_to_fen,
)


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("0.01", 1),
        ("0", 0),
        ("0.00", 0),
        ("12.3", 1230),
        ("12.34", 1234),
        ("12", 1200),
        (" 12.30 ", 1230),
        ("12.340", 1234),  # a trailing zero is still exact
        ("1000000", 100_000_000),
        ("1000000.00", 100_000_000),
        (1e6, 100_000_000),
        (12, 1200),
        (Decimal("12.34"), 1234),
        (0.1, 10),  # 0.1 * 100 in floats is 10.000000000000002
        (39.9, 3990),
        (1.15, 115),  # round(1.15 * 100) would be 114.99999999999999 -> 115 by luck only
        (40.01, 4001),
        ("10000000.00", MAX_FEN),
        ("１２.３４", 1234),  # full-width, as Chinese input methods type it
    ],
)
def test_yuan_become_exact_fen(value, fen):
    assert yuan_to_fen(value) == fen


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12.345", "too_many_decimals"),
        (12.345, "too_many_decimals"),
        ("0.001", "too_many_decimals"),
        ("-1", "negative"),
        ("-0.01", "negative"),
        (-1, "negative"),
        (Decimal("-0.50"), "negative"),
        ("1e6", "not_a_number"),
        ("1,234.00", "not_a_number"),
        ("+1", "not_a_number"),
        (".5", "not_a_number"),
        ("12.", "not_a_number"),
        ("", "not_a_number"),
        ("abc", "not_a_number"),
        ("NaN", "not_a_number"),
        (float("nan"), "not_a_number"),
        (float("inf"), "not_a_number"),
        (Decimal("sNaN"), "not_a_number"),
        (None, "not_a_number"),
        (True, "not_a_number"),
        ("١٢", "not_a_number"),  # Arabic-Indic digits are digits to Python, not to us
        ("10000000.01", "too_large"),
    ],
)
def test_money_that_is_not_plain_non_negative_yuan_is_refused(value, reason):
    with pytest.raises(ConversionFailed) as refused:
        yuan_to_fen(value)

    assert refused.value.reason == reason


@pytest.mark.parametrize(("value", "fen"), [(8800, 8800), ("8800", 8800), (0, 0), (1, 1)])
def test_fen_stay_fen(value, fen):
    assert fen_amount(value) == fen


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-1, "negative"),
        ("-1", "negative"),
        ("88.00", "not_an_integer"),
        (1.5, "not_an_integer"),
        (True, "not_an_integer"),
        (MAX_FEN + 1, "too_large"),
    ],
)
def test_fen_that_are_not_a_non_negative_integer_are_refused(value, reason):
    with pytest.raises(ConversionFailed) as refused:
        fen_amount(value)

    assert refused.value.reason == reason


@pytest.mark.parametrize(("value", "quantity"), [(1, 1), ("2", 2), (2.0, 2), (100_000, 100_000)])
def test_quantities_are_positive_integers(value, quantity):
    assert to_quantity(value) == quantity


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0, "not_positive"),
        (-1, "not_positive"),
        ("-1", "not_an_integer"),
        (1.5, "not_an_integer"),
        (True, "not_an_integer"),
        ("two", "not_an_integer"),
        (float("inf"), "not_an_integer"),
        (100_001, "too_large"),
    ],
)
def test_a_quantity_that_is_not_a_positive_integer_is_refused(value, reason):
    with pytest.raises(ConversionFailed) as refused:
        to_quantity(value)

    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("convert", "value", "expected"),
    [
        (iso_to_utc, "2024-05-01T10:00:00+08:00", datetime(2024, 5, 1, 2, 0, tzinfo=UTC)),
        (iso_to_utc, "2024-05-01T02:00:00Z", datetime(2024, 5, 1, 2, 0, tzinfo=UTC)),
        (iso_to_utc, "2024-04-30T22:00:00-04:00", datetime(2024, 5, 1, 2, 0, tzinfo=UTC)),
        (china_time_to_utc, "2024-05-01 10:00:00", datetime(2024, 5, 1, 2, 0, tzinfo=UTC)),
        (china_time_to_utc, "2024-01-01 07:59:59", datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (
            china_time_to_utc,
            "2021-05-07 09:20:39.683+0800",
            datetime(2021, 5, 7, 1, 20, 39, 683000, tzinfo=UTC),
        ),
        (unix_seconds_to_utc, 1714528800, datetime(2024, 5, 1, 2, 0, tzinfo=UTC)),
        (unix_seconds_to_utc, "1714528800", datetime(2024, 5, 1, 2, 0, tzinfo=UTC)),
        (unix_seconds_to_utc, 0, None),
    ],
)
def test_channel_times_become_aware_utc(convert, value, expected):
    assert convert(value) == expected


@pytest.mark.parametrize(
    ("convert", "value", "reason"),
    [
        (iso_to_utc, "2024-05-01T10:00:00", "time_without_offset"),
        (iso_to_utc, "yesterday", "not_a_time"),
        (china_time_to_utc, "2024-02-30 10:00:00", "not_a_time"),
        (china_time_to_utc, "2024/05/01 10:00:00", "not_a_time"),
        (china_time_to_utc, 1714528800, "not_text"),
        (unix_seconds_to_utc, -1, "not_a_time"),
        (unix_seconds_to_utc, "2024-05-01", "not_an_integer"),
        (unix_seconds_to_utc, 10**17, "not_a_time"),
    ],
)
def test_a_time_that_cannot_be_read_exactly_is_refused(convert, value, reason):
    with pytest.raises(ConversionFailed) as refused:
        convert(value)

    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("value", "mobile"),
    [
        ("+8613800000000", "13800000000"),
        ("86-13912345678", "13912345678"),
        (13800138000, "13800138000"),
        ("135*******", "135*******"),
        ("138****5678", "138****5678"),
    ],
)
def test_mobiles_are_normalized_and_masked_ones_kept_verbatim(value, mobile):
    assert to_mobile(value) == mobile


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12345", "not_a_mainland_mobile"),
        ("0571-88888888", "not_a_mainland_mobile"),
        ("***", "not_a_mainland_mobile"),
        ("", "missing"),
        (None, "not_text"),
    ],
)
def test_a_number_that_is_neither_a_mobile_nor_masked_is_refused(value, reason):
    with pytest.raises(ConversionFailed) as refused:
        to_mobile(value)

    assert refused.value.reason == reason


def test_identifiers_keep_large_integer_ids_exact():
    assert to_identifier(820982911946154508) == "820982911946154508"
    assert to_identifier(" 240501-123 ") == "240501-123"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "not_text"),
        (1.5, "not_text"),
        ("A 1", "contains_whitespace"),
        ("x" * 65, "too_long"),
        ("   ", "missing"),
    ],
)
def test_an_identifier_that_is_not_one_token_is_refused(value, reason):
    with pytest.raises(ConversionFailed) as refused:
        to_identifier(value)

    assert refused.value.reason == reason


def test_text_is_trimmed_and_control_characters_refused():
    assert to_text("  T恤 ") == "T恤"
    with pytest.raises(ConversionFailed, match="control_characters"):
        to_text("T\u202e恤")
    with pytest.raises(ConversionFailed, match="not_text"):
        to_text(5)


@pytest.mark.parametrize(
    ("value", "postal_code"),
    [("518057", "518057"), (518057, "518057"), ("51805", None), ("ABC123", None), (None, None)],
)
def test_an_odd_postal_code_is_dropped_not_fatal(value, postal_code):
    assert to_postal_code(value) == postal_code
