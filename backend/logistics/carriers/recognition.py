"""Which carriers a waybill number can belong to, from the numbers' public shapes.

The shapes are what carriers' numbers look like today, not a published standard, so a
match is a hint to show staff, never a decision: docs/protocols.md, "Carrier number
recognition / Local patterns" says how sure each one is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NumberPattern:
    carrier_code: str
    pattern: re.Pattern[str]
    confirmed: bool  # False: seen on real parcels, but from no carrier's own page


def _p(carrier_code: str, regex: str, *, confirmed: bool) -> NumberPattern:
    return NumberPattern(carrier_code, re.compile(regex), confirmed)


# Letter-prefixed shapes first: they are unambiguous, while all-digit numbers often fit
# several carriers. The order is the order guess_carriers answers in.
PATTERNS: tuple[NumberPattern, ...] = (
    _p("shunfeng", r"SF\d{13}", confirmed=True),
    _p("yuantong", r"YT\d{13}", confirmed=True),
    _p("jtexpress", r"JT\d{13}", confirmed=True),
    _p("jd", r"JD[0-9A-Z]{11,15}", confirmed=False),
    _p("debangkuaidi", r"DPK\d{12}", confirmed=False),
    # UPU S10 (two letters, 8 digits + check digit, country): EMS's international numbers.
    _p("ems", r"E[A-Z]\d{9}CN", confirmed=True),
    _p("zhongtong", r"7\d{13}|[67]\d{11}", confirmed=False),
    _p("yunda", r"(?:3|4)\d{12}|(?:3|4)\d{14}", confirmed=False),
    _p("shentong", r"(?:77|88)\d{11}|(?:77|88)\d{13}|[2-9]68\d{9}", confirmed=False),
    _p("ems", r"1\d{12}", confirmed=False),
    _p("youzhengguonei", r"9\d{12}", confirmed=False),
)
# A carrier we have no shape for: anything Kuaidi100 itself would accept to subscribe.
PLAUSIBLE = re.compile(r"[0-9A-Z]{6,32}")


def normalize_number(number: str) -> str:
    """Upper-case, without the spaces and dashes people type or scanners add."""
    return re.sub(r"[\s\-]", "", number).upper()


def has_pattern(carrier_code: str) -> bool:
    return any(p.carrier_code == carrier_code for p in PATTERNS)


def valid_for(carrier_code: str, number: str) -> bool:
    """Whether `number` has a shape `carrier_code` uses; carriers we have no shape for take
    any plausible number rather than a guess."""
    text = normalize_number(number)
    if not PLAUSIBLE.fullmatch(text):
        return False
    shapes = [p for p in PATTERNS if p.carrier_code == carrier_code]
    return not shapes or any(p.pattern.fullmatch(text) for p in shapes)


def guess_carriers(number: str) -> list[str]:
    """Carrier codes whose shape fits, most specific first; empty when none does."""
    text = normalize_number(number)
    found: list[str] = []
    for shape in PATTERNS:
        if shape.pattern.fullmatch(text) and shape.carrier_code not in found:
            found.append(shape.carrier_code)
    return found
