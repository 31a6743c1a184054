"""The vocabulary of a channel mapping table: where each field lives and how it is converted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from backend.orders.channels.converters import CONVERTERS
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import PaymentMethod, SalesChannel

# In a StatusOverride, matches any non-blank value (Shopify's cancelled_at timestamp).
ANY_VALUE = "*"


@dataclass(frozen=True)
class FieldSpec:
    """Where one value lives: the first source present wins, then the named converter runs.

    A source is a dotted path ("shipping_address.city"), or parts joined with "+" and
    `separator` ("post_addr.street.name?+post_addr.detail"); a part ending in "?" may be blank,
    any other blank part makes the whole source count as absent.
    """

    sources: tuple[str, ...]
    converter: str = "text"
    required: bool = True
    separator: str = ""

    def __post_init__(self) -> None:
        # A typo in a table should fail at import, not on the first real order.
        if not self.sources or self.converter not in CONVERTERS:
            raise ValueError(f"bad field spec {self.sources!r} / {self.converter!r}")


def at(
    *sources: str, converter: str = "text", required: bool = True, separator: str = ""
) -> FieldSpec:
    """Shorthand for the tables: at("tid_str", "tid", converter="identifier")."""
    return FieldSpec(sources, converter, required, separator)


@dataclass(frozen=True)
class AddressMapping:
    recipient_name: FieldSpec
    phone: FieldSpec
    province: FieldSpec
    city: FieldSpec
    # None when the channel has no such field (Shopify): the order gets a district_missing hint.
    district: FieldSpec | None
    street: FieldSpec
    postal_code: FieldSpec | None = None


@dataclass(frozen=True)
class LineMapping:
    """Line items: `items` names the list (first path holding one wins); the rest are relative."""

    items: tuple[str, ...]
    channel_sku: FieldSpec
    name: FieldSpec
    quantity: FieldSpec
    unit_price_fen: FieldSpec
    channel_line_id: FieldSpec | None = None
    paid_fen: FieldSpec | None = None


@dataclass(frozen=True)
class StatusOverride:
    """A second field that decides the status over the main one (a cancel or refund marker).

    Applies only while the main status maps into `applies_to` (all statuses when empty).
    """

    path: str
    statuses: Mapping[str, OrderStatus]
    applies_to: frozenset[OrderStatus] = frozenset()


@dataclass(frozen=True)
class RiskRule:
    """Raise `hint` when `path` holds one of `values` (any truthy value when `values` is empty)."""

    path: str
    hint: str
    values: frozenset[str] = frozenset()


def table(entries: Mapping[str, OrderStatus]) -> Mapping[str, OrderStatus]:
    """A read-only status table, so a mapping cannot be changed at run time by accident."""
    return MappingProxyType(dict(entries))


@dataclass(frozen=True)
class ChannelMapping:
    """Everything that differs between channels, as data; apply_mapping is the only code path.

    The payload is one order object as the channel sends it (Shopify's webhook body, one TOP
    `trade`, PDD's `order_info`, Douyin's `shop_order_detail`, one JD `orderInfo`).
    """

    channel: SalesChannel
    order_no: FieldSpec
    status: FieldSpec
    statuses: Mapping[str, OrderStatus]
    buyer_name: FieldSpec
    buyer_phone: FieldSpec
    address: AddressMapping
    lines: LineMapping
    total_fen: FieldSpec
    placed_at: FieldSpec
    paid_at: FieldSpec | None
    # The channel's modification time; never let an older one overwrite a newer one.
    updated_at: FieldSpec
    payment_method: PaymentMethod | None = None
    status_overrides: tuple[StatusOverride, ...] = ()
    # Raw statuses that map fine but deserve a look (JD PAUSE, a partial shipment).
    status_hints: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    risk_rules: tuple[RiskRule, ...] = ()
    currency: FieldSpec | None = None
    currencies: frozenset[str] = frozenset({"CNY"})
