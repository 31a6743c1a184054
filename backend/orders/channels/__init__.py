"""Multi-channel order intake, pure part: signatures, mapping tables, CSV/xlsx import."""

from backend.orders.channels.canonical import (
    CanonicalAddress,
    CanonicalLine,
    CanonicalOrder,
    PayloadInvalid,
    supersedes,
)
from backend.orders.channels.csv_import import RowError, parse_order_file
from backend.orders.channels.mapping import ChannelNotMapped, map_order

__all__ = [
    "CanonicalAddress",
    "CanonicalLine",
    "CanonicalOrder",
    "ChannelNotMapped",
    "PayloadInvalid",
    "RowError",
    "map_order",
    "parse_order_file",
    "supersedes",
]
