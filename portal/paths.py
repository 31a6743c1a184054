"""Path convertors: a path parameter that is not a plausible value never matches a route (404).

Registered once, by `portal.routes` (its package runs this before any route module), and
used as `{order_id:id}` and `{public_no:order_no}`; the route-table test
(`tests/portal/test_path_params.py`) fails on an id parameter declared without one.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

# Row ids are INTEGER columns: 32-bit signed on PostgreSQL, so a larger number is no row and
# must not reach a query (there it is an error, on SQLite an OverflowError past 64 bits).
MAX_ID = 2**31 - 1
# Order numbers are ASCII letters and digits, at most as long as orders.public_no.
ORDER_NO_LENGTH = 24


def decimal_up_to(limit: int) -> str:
    """A regex for exactly the numbers 1..limit in plain ASCII digits, without leading zeros."""
    text = str(limit)
    shorter = [f"[1-9][0-9]{{0,{len(text) - 2}}}"] if len(text) > 1 else []
    as_long = []
    for position, digit in enumerate(text):
        low = 1 if position == 0 else 0
        if int(digit) > low:
            rest = len(text) - position - 1
            as_long.append(f"{text[:position]}[{low}-{int(digit) - 1}][0-9]{{{rest}}}")
    return "|".join([*shorter, *as_long, text])


class IdConvertor(Convertor[int]):
    regex = decimal_up_to(MAX_ID)

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        if not 0 < int(value) <= MAX_ID:
            raise ValueError(f"not a row id: {value!r}")
        return str(int(value))


class OrderNoConvertor(Convertor[str]):
    regex = f"[A-Za-z0-9]{{1,{ORDER_NO_LENGTH}}}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def register_path_convertors() -> None:
    register_url_convertor("id", IdConvertor())
    register_url_convertor("order_no", OrderNoConvertor())
