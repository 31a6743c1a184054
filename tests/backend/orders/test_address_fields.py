"""Field rules for the address form: mobile number, recipient name and street line."""

import pytest

from backend.orders.address_fields import (
    AddressFieldInvalid,
    MobileNumberInvalid,
    RecipientNameEmpty,
    RecipientNameHasForbiddenCharacters,
    RecipientNameTooLong,
    StreetContainsMarkup,
    StreetHasControlCharacters,
    StreetTooLong,
    StreetTooShort,
    validate_mainland_mobile,
    validate_recipient_name,
    validate_street,
)
from backend.phones import normalize_mobile


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("0086 138-0013-8000", "13800138000"),
        ("86-13800138000", "13800138000"),
        ("(+86) 13800138000", "13800138000"),
        ("  19912345678  ", "19912345678"),
        ("１３８００１３８０００", "13800138000"),
        ("＋８６ １３８ ００１３ ８０００", "13800138000"),
    ],
)
def test_mainland_mobiles_are_normalized_to_11_digits(raw, normalized):
    assert normalize_mobile(raw) == normalized
    assert validate_mainland_mobile(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12800138000",
        "10800138000",
        "1380013800",
        "138001380001",
        "+85213800138000",
        "+1 138 0013 8000",
        "0571-88888888",
        "1380013800a",
        "138_0013_8000",
        "8613800138000 ext 1",
        "+86+8613800138000",
    ],
)
def test_anything_else_is_not_a_mainland_mobile(raw):
    assert normalize_mobile(raw) is None
    with pytest.raises(MobileNumberInvalid) as raised:
        validate_mainland_mobile(raw)
    assert raised.value.code == "mobile_number_invalid"
    assert raised.value.field == "phone"


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("张三", "张三"),
        ("  欧阳娜娜  ", "欧阳娜娜"),
        ("李", "李"),
        ("Li  Lei", "Li Lei"),
        ("阿卜杜·热合曼", "阿卜杜·热合曼"),
        ("王\u200b先生", "王先生"),
        ("Ｌｉ Ｌｅｉ", "Li Lei"),
        ("名" * 20, "名" * 20),
    ],
)
def test_recipient_names_are_trimmed_and_kept(raw, cleaned):
    assert validate_recipient_name(raw) == cleaned


@pytest.mark.parametrize(
    ("raw", "error", "code"),
    [
        ("", RecipientNameEmpty, "recipient_name_empty"),
        ("  \n ", RecipientNameEmpty, "recipient_name_empty"),
        ("名" * 21, RecipientNameTooLong, "recipient_name_too_long"),
        ("<b>张三</b>", RecipientNameHasForbiddenCharacters, "recipient_name_forbidden_characters"),
        ("张三>", RecipientNameHasForbiddenCharacters, "recipient_name_forbidden_characters"),
        ("张\x00三", RecipientNameHasForbiddenCharacters, "recipient_name_forbidden_characters"),
        ("张三\u202e", RecipientNameHasForbiddenCharacters, "recipient_name_forbidden_characters"),
        ("张\x1f三", RecipientNameHasForbiddenCharacters, "recipient_name_forbidden_characters"),
    ],
)
def test_bad_recipient_names_raise_a_named_error_with_a_code(raw, error, code):
    with pytest.raises(error) as raised:
        validate_recipient_name(raw)
    assert raised.value.code == code
    assert raised.value.field == "recipient_name"
    assert isinstance(raised.value, AddressFieldInvalid)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("文三路100号", "文三路100号"),
        ("  文三路100号  3幢\n201室 ", "文三路100号 3幢 201室"),
        ("文三路１００号", "文三路100号"),
        ("1号", "1号"),
        ("科技园南区高新南一道9号\u200b", "科技园南区高新南一道9号"),
        ("路" * 120, "路" * 120),
        ("Room 5, 100 Wensan Rd.", "Room 5, 100 Wensan Rd."),
        ("华强北电子世界3楼A区-12号", "华强北电子世界3楼A区-12号"),
    ],
)
def test_streets_are_trimmed_and_kept(raw, cleaned):
    assert validate_street(raw) == cleaned


@pytest.mark.parametrize(
    ("raw", "error", "code"),
    [
        ("", StreetTooShort, "street_too_short"),
        ("   ", StreetTooShort, "street_too_short"),
        ("号", StreetTooShort, "street_too_short"),
        ("路" * 121, StreetTooLong, "street_too_long"),
        ("x" * 5000, StreetTooLong, "street_too_long"),
        ("文三路\x00100号", StreetHasControlCharacters, "street_control_characters"),
        ("文三路\x1f100号", StreetHasControlCharacters, "street_control_characters"),
        ("文三路\u202e100号", StreetHasControlCharacters, "street_control_characters"),
        ("<script>alert(1)</script>", StreetContainsMarkup, "street_contains_markup"),
        ("文三路100号<b>", StreetContainsMarkup, "street_contains_markup"),
        ("1 > 0 号", StreetContainsMarkup, "street_contains_markup"),
        ("&lt;script&gt;alert(1)", StreetContainsMarkup, "street_contains_markup"),
        ("&#60;script&#62;", StreetContainsMarkup, "street_contains_markup"),
        ("%3Cscript%3E", StreetContainsMarkup, "street_contains_markup"),
        ("javascript:alert(1)", StreetContainsMarkup, "street_contains_markup"),
        ('x" onerror=alert(1) "', StreetContainsMarkup, "street_contains_markup"),
        ("＜script＞alert(1)＜/script＞", StreetContainsMarkup, "street_contains_markup"),
        ("<script>" + "x" * 5000, StreetContainsMarkup, "street_contains_markup"),
    ],
)
def test_bad_streets_raise_a_named_error_with_a_code(raw, error, code):
    with pytest.raises(error) as raised:
        validate_street(raw)
    assert raised.value.code == code
    assert raised.value.field == "street"


def test_every_error_code_is_distinct():
    errors = [
        MobileNumberInvalid,
        RecipientNameEmpty,
        RecipientNameTooLong,
        RecipientNameHasForbiddenCharacters,
        StreetTooShort,
        StreetTooLong,
        StreetHasControlCharacters,
        StreetContainsMarkup,
    ]
    assert len({error.code for error in errors}) == len(errors)
