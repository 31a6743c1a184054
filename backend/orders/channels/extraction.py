"""The one code path that applies a ChannelMapping table to a payload, giving a CanonicalOrder."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypeVar

from backend.orders.channels.canonical import (
    CanonicalAddress,
    CanonicalLine,
    CanonicalOrder,
    PayloadInvalid,
)
from backend.orders.channels.converters import ConversionFailed, convert
from backend.orders.channels.spec import (
    ANY_VALUE,
    AddressMapping,
    ChannelMapping,
    FieldSpec,
    LineMapping,
)
from backend.orders.divisions import is_valid_division
from backend.orders.lifecycle import OrderStatus

_T = TypeVar("_T")


def resolve(payload: Mapping[str, object], path: str) -> object:
    """The value at a dotted path, or None when any step is absent or not an object."""
    value: object = payload
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_source(payload: Mapping[str, object], source: str, separator: str) -> object:
    if "+" not in source:
        return resolve(payload, source)
    parts: list[str] = []
    for part in source.split("+"):
        optional = part.endswith("?")
        value = resolve(payload, part.rstrip("?"))
        if is_blank(value):
            if optional:
                continue
            return None
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise PayloadInvalid(part.rstrip("?"), "not_text", source)
        parts.append(str(value).strip())
    return separator.join(parts) if parts else None


def read(payload: Mapping[str, object], spec: FieldSpec, name: str, prefix: str = "") -> object:
    """The converted value of one field; None when it is optional and absent."""
    for source in spec.sources:
        raw = _read_source(payload, source, spec.separator)
        if not is_blank(raw):
            try:
                return convert(spec.converter, raw)
            except ConversionFailed as failure:
                raise PayloadInvalid(name, failure.reason, prefix + source) from None
    if spec.required:
        raise PayloadInvalid(name, "missing", prefix + " | ".join(spec.sources))
    return None


def _typed(value: object, kind: type[_T], name: str) -> _T:
    # Reaching this means a table names a converter of the wrong kind for the field.
    if not isinstance(value, kind):
        raise TypeError(f"mapping for {name} yields {type(value).__name__}, not {kind.__name__}")
    return value


def read_text(payload: Mapping[str, object], spec: FieldSpec, name: str, prefix: str = "") -> str:
    value = read(payload, spec, name, prefix)
    return "" if value is None else _typed(value, str, name)


def read_int(payload: Mapping[str, object], spec: FieldSpec, name: str, prefix: str = "") -> int:
    return _typed(read(payload, spec, name, prefix), int, name)


def read_time(payload: Mapping[str, object], spec: FieldSpec | None, name: str) -> datetime | None:
    value = None if spec is None else read(payload, spec, name)
    return None if value is None else _typed(value, datetime, name)


def _status(mapping: ChannelMapping, payload: Mapping[str, object], raw: str) -> OrderStatus:
    status = mapping.statuses.get(raw)
    if status is None:
        raise PayloadInvalid("status", "unknown_status", " | ".join(mapping.status.sources))
    for override in mapping.status_overrides:
        if override.applies_to and status not in override.applies_to:
            continue
        value = resolve(payload, override.path)
        if is_blank(value):
            continue
        overriding = override.statuses.get(str(value).strip()) or override.statuses.get(ANY_VALUE)
        if overriding is not None:
            return overriding
    return status


def _optional_text(payload: Mapping[str, object], spec: FieldSpec | None, name: str) -> str | None:
    value = None if spec is None else read(payload, spec, name)
    return None if value is None else _typed(value, str, name)


def _address(spec: AddressMapping, payload: Mapping[str, object]) -> CanonicalAddress:
    return CanonicalAddress(
        recipient_name=read_text(payload, spec.recipient_name, "address.recipient_name"),
        phone=read_text(payload, spec.phone, "address.phone"),
        province=read_text(payload, spec.province, "address.province"),
        city=read_text(payload, spec.city, "address.city"),
        district=_optional_text(payload, spec.district, "address.district") or "",
        street=read_text(payload, spec.street, "address.street"),
        postal_code=_optional_text(payload, spec.postal_code, "address.postal_code"),
    )


def _items(spec: LineMapping, payload: Mapping[str, object]) -> tuple[str, list[object]]:
    for path in spec.items:
        value = resolve(payload, path)
        if isinstance(value, list):
            if not value:
                raise PayloadInvalid("lines", "empty", path)
            return path, value
    raise PayloadInvalid("lines", "missing", " | ".join(spec.items))


def _optional_int(
    item: Mapping[str, object], spec: FieldSpec | None, name: str, at: str
) -> int | None:
    value = None if spec is None else read(item, spec, name, at)
    return None if value is None else _typed(value, int, name)


def _lines(spec: LineMapping, payload: Mapping[str, object]) -> tuple[CanonicalLine, ...]:
    path, items = _items(spec, payload)
    lines = []
    for index, item in enumerate(items):
        name, at = f"lines[{index}]", f"{path}[{index}]."
        if not isinstance(item, Mapping):
            raise PayloadInvalid(name, "not_an_object", at.rstrip("."))
        line_id = None
        if spec.channel_line_id is not None:
            line_id = read(item, spec.channel_line_id, f"{name}.channel_line_id", at)
        lines.append(
            CanonicalLine(
                channel_sku=read_text(item, spec.channel_sku, f"{name}.channel_sku", at),
                name=read_text(item, spec.name, f"{name}.name", at),
                quantity=read_int(item, spec.quantity, f"{name}.quantity", at),
                unit_price_fen=read_int(item, spec.unit_price_fen, f"{name}.unit_price_fen", at),
                channel_line_id=None if line_id is None else str(line_id),
                paid_fen=_optional_int(item, spec.paid_fen, f"{name}.paid_fen", at),
            )
        )
    return tuple(lines)


def _is_truthy(value: object) -> bool:
    return bool(value) and value not in ("0", "false", "False")


def _risk_hints(
    mapping: ChannelMapping,
    payload: Mapping[str, object],
    raw_status: str,
    address: CanonicalAddress,
) -> tuple[str, ...]:
    hints = set()
    if raw_status in mapping.status_hints:
        hints.add(mapping.status_hints[raw_status])
    for rule in mapping.risk_rules:
        value = resolve(payload, rule.path)
        matched = str(value).strip() in rule.values if rule.values else _is_truthy(value)
        if value is not None and matched:
            hints.add(rule.hint)
    # Marketplaces mask the recipient until it is decrypted for a waybill; a masked phone must
    # never become a customer identity (customers.phone is unique).
    if any("*" in text for text in (address.recipient_name, address.phone, address.street)):
        hints.add("recipient_masked")
    if not address.district:
        hints.add("district_missing")
    elif not is_valid_division(address.province, address.city, address.district):
        hints.add("division_unknown")
    return tuple(sorted(hints))


def _check_currency(mapping: ChannelMapping, payload: Mapping[str, object]) -> None:
    if mapping.currency is not None:
        currency = read_text(payload, mapping.currency, "currency")
        if currency.upper() not in mapping.currencies:
            raise PayloadInvalid("currency", "unsupported_currency", mapping.currency.sources[0])


def apply_mapping(mapping: ChannelMapping, payload: object) -> CanonicalOrder:
    """Map one order payload through a channel's table; PayloadInvalid names the first bad field."""
    if not isinstance(payload, Mapping):
        raise PayloadInvalid("payload", "not_an_object")
    order_no = read_text(payload, mapping.order_no, "channel_order_no")
    raw_status = read_text(payload, mapping.status, "status")
    status = _status(mapping, payload, raw_status)
    _check_currency(mapping, payload)
    address = _address(mapping.address, payload)
    paid_at = read_time(payload, mapping.paid_at, "paid_at")
    return CanonicalOrder(
        channel=mapping.channel,
        channel_order_no=order_no,
        status=status,
        raw_status=raw_status,
        buyer_name=read_text(payload, mapping.buyer_name, "buyer_name"),
        buyer_phone=read_text(payload, mapping.buyer_phone, "buyer_phone"),
        address=address,
        lines=_lines(mapping.lines, payload),
        total_fen=read_int(payload, mapping.total_fen, "total_fen"),
        placed_at=read_time(payload, mapping.placed_at, "placed_at"),
        # An unpaid order has no payment time, whatever a channel leaves in the field.
        paid_at=None if status == OrderStatus.PENDING_PAYMENT else paid_at,
        updated_at=read_time(payload, mapping.updated_at, "updated_at"),
        payment_method=mapping.payment_method,
        risk_hints=_risk_hints(mapping, payload, raw_status, address),
    )
