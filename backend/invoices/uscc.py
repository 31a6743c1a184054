"""The 统一社会信用代码 check (GB 32100-2015): 18 characters, the last one a check character.

Pure, no I/O. The rule: docs/protocols.md, "Invoices / 统一社会信用代码 check".
"""

from __future__ import annotations

# The standard's 31-character alphabet: I, O, Z, S and V are left out so they can't be
# misread as 1, 0, 2, 5 and U. A character's value is its position here.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {character: value for value, character in enumerate(ALPHABET)}
# Weight of position i is 3**i mod 31, as tabulated in the standard.
WEIGHTS = tuple(pow(3, position, 31) for position in range(17))
LENGTH = 18


def normalise(code: str) -> str:
    """What people paste: spaces and lower case are forgiven, nothing else is."""
    return "".join(code.split()).upper()


def check_character(first_seventeen: str) -> str:
    total = sum(VALUES[c] * w for c, w in zip(first_seventeen, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """True when the code has 18 characters of the alphabet and its check character matches."""
    if len(code) != LENGTH or any(character not in VALUES for character in code):
        return False
    return check_character(code[:17]) == code[17]
