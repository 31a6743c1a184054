"""Masking of personal data on customer pages."""

import pytest

from backend.orders.masking import mask_name, mask_phone, mask_street


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "李*"), ("  王五 ", "王*"), ("", "")],
)
def test_names_keep_only_the_first_character(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812341234", "138****1234"),
        ("138-1234-1234", "138****1234"),
        ("02112345678", "021****5678"),
        ("5678", "5678"),
        ("12", "****"),
    ],
)
def test_phones_show_the_prefix_and_the_last_four_digits(phone, masked):
    assert mask_phone(phone) == masked


def test_the_street_line_is_hidden_entirely():
    assert mask_street("文三路100号华星科技大厦5楼") == "****"
    assert mask_street("   ") == ""
