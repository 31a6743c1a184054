"""Mainland mobile numbers: the one pattern, the one normaliser, and finding them in free text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Eleven digits, 1 then 3-9: every mainland carrier's mobile range (landlines start with 0).
MOBILE = re.compile(r"1[3-9]\d{9}")
# What people type around a number: spaces, dashes, dots and brackets around an area code.
_DECORATION = re.compile(r"[\s\-.()]")
# Taobao and JD exports write 86-138..., so a bare 86 in front of 11 digits is a country code too.
_COUNTRY_CODE = re.compile(r"^(?:\+86|0086|86)(?=1[3-9]\d{9}$)")
# A number inside other text (a pasted address, a log line): an optional +86 / 0086 / 86
# prefix, digits grouped by spaces or dashes, and no digit right before or after it.
MOBILE_IN_TEXT = re.compile(
    r"(?<![\d+])(?:\(?(?:\+|00)86\)?[\s-]*|86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)"
)


def normalize_mobile(raw: str) -> str | None:
    """'+86 138-0013-8000' -> '13800138000'; None unless it is an 11-digit 1[3-9] number."""
    # NFKC turns full-width digits and plus signs from Chinese input methods into ASCII.
    compact = _DECORATION.sub("", unicodedata.normalize("NFKC", raw))
    compact = _COUNTRY_CODE.sub("", compact)
    return compact if MOBILE.fullmatch(compact) else None


def find_mobiles(text: str) -> list[str]:
    """Every mobile number written in `text`, normalised, in order."""
    found = (normalize_mobile(match.group()) for match in MOBILE_IN_TEXT.finditer(text))
    return [mobile for mobile in found if mobile]


def replace_mobiles(text: str, replacement: str | Callable[[re.Match[str]], str]) -> str:
    return MOBILE_IN_TEXT.sub(replacement, text)
