"""The 统一社会信用代码 check digit (GB 32100-2015) over valid and invalid codes."""

import pytest

from backend.invoices.uscc import WEIGHTS, check_character, is_valid_uscc, normalise

# Published codes of well-known companies (their business licences are public).
VALID = [
    "914403001922038216",  # 华为技术有限公司
    "91110000600037341L",  # check character a letter
    "91350100M000100Y43",  # letters inside the organisation code
]


@pytest.mark.parametrize("code", VALID)
def test_a_published_code_passes(code):
    assert is_valid_uscc(code)


@pytest.mark.parametrize(
    "code",
    [
        "914403001922038217",  # check character off by one
        "91110000600037341M",
        "91440300192203821",  # 17 characters
        "9144030019220382166",  # 19 characters
        "91440300192203821I",  # I is not in the alphabet
        "914403001922O38216",  # O (letter) instead of 0
        "",
        "91350100m000100Y43",  # lower case is not a code until normalised
    ],
)
def test_a_wrong_code_fails(code):
    assert not is_valid_uscc(code)


def test_every_single_character_change_of_a_valid_code_is_caught():
    code = VALID[0]
    for position in range(17):
        for replacement in "0123456789ABCDEFGHJKLMNPQRTUWXY":
            if replacement == code[position]:
                continue
            changed = code[:position] + replacement + code[position + 1 :]
            assert not is_valid_uscc(changed), changed


def test_the_weights_are_the_standards_table():
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_a_remainder_of_zero_gives_check_character_zero():
    assert check_character("0" * 17) == "0"


def test_spaces_and_lower_case_are_normalised():
    assert normalise(" 91350100m000100y43 ") == "91350100M000100Y43"
