"""The one mobile-number normaliser, and finding numbers in free text."""

import pytest

from backend.phones import find_mobiles, normalize_mobile, replace_mobiles


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("86-13800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),  # full-width digits from a Chinese IME
        ("(+86) 138 0013 8000", "13800138000"),
        ("12800138000", None),  # 12x is no mobile range
        ("1380013800", None),
        ("0571-88880000", None),  # a landline
        ("138001380001", None),
    ],
)
def test_a_number_is_normalised_to_its_eleven_digits_or_refused(raw, expected):
    assert normalize_mobile(raw) == expected


def test_numbers_are_found_in_pasted_text_but_not_inside_longer_digit_runs():
    text = "张三 +86 139-1234-5678 浙江省杭州市 运单 SF1380013800012 订单 8613712345678"
    assert find_mobiles(text) == ["13912345678", "13712345678"]
    assert replace_mobiles(text, "<phone>") == (
        "张三 <phone> 浙江省杭州市 运单 SF1380013800012 订单 <phone>"
    )
