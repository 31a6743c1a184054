"""Parcels the platform or a 3PL shipped, read from a channel's order payload.

Which fields carry a waybill, and how sure we are of each: docs/protocols.md,
"Waybills in channel order updates". Each channel's carrier codes or names map to our
Kuaidi100 codes through a table; a carrier outside it yields a parcel without a code,
which intake notes and never records under a guess. A shipping field that is not the
shape we expect is skipped: it must never cost the order itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from backend.orders.channels.canonical import CanonicalParcel
from backend.orders.models import SalesChannel

# Names as people and platforms write them; keys are compared without spaces, lowercased.
_NAMES = {
    "顺丰速运": "shunfeng",
    "顺丰": "shunfeng",
    "顺丰快递": "shunfeng",
    "sf express": "shunfeng",
    "圆通速递": "yuantong",
    "圆通": "yuantong",
    "yto express": "yuantong",
    "中通快递": "zhongtong",
    "中通": "zhongtong",
    "zto express": "zhongtong",
    "韵达快递": "yunda",
    "韵达": "yunda",
    "yunda express": "yunda",
    "申通快递": "shentong",
    "申通": "shentong",
    "sto express": "shentong",
    "京东物流": "jd",
    "京东快递": "jd",
    "jd logistics": "jd",
    "极兔速递": "jtexpress",
    "极兔": "jtexpress",
    "j&t express": "jtexpress",
    "ems": "ems",
    "邮政快递包裹": "youzhengguonei",
    "中国邮政": "youzhengguonei",
    "china post": "youzhengguonei",
    "德邦快递": "debangkuaidi",
    "德邦": "debangkuaidi",
    "deppon express": "debangkuaidi",
}
_OUR_CODES = frozenset(_NAMES.values())
# TOP logistics company codes (taobao.logistics.companies.get `code`): docs/protocols.md,
# "Waybills in channel order updates / Carrier tables".
_TOP_CODES = {
    "SF": "shunfeng",
    "YTO": "yuantong",
    "ZTO": "zhongtong",
    "YUNDA": "yunda",
    "STO": "shentong",
    "EMS": "ems",
    "POSTB": "youzhengguonei",
    "JD": "jd",
}
# JD 商家物流公司 ids (logiCoprId / logisticsId); from one third-party list, unconfirmed.
_JD_IDS = {
    "467": "shunfeng",
    "463": "yuantong",
    "1499": "zhongtong",
    "1327": "yunda",
    "470": "shentong",
    "465": "ems",
    "3046": "debangkuaidi",
    "2087": "jd",
}
# PDD logistics ids (pdd.logistics.companies.get `id`); only one id is known, unconfirmed.
_PDD_IDS = {"121": "yunda"}


def _folded(value: object) -> str:
    return "".join(str(value).split()).lower() if isinstance(value, str | int) else ""


_FOLDED_NAMES = {_folded(name): code for name, code in _NAMES.items()}


def carrier_for_name(value: object) -> str | None:
    text = _folded(value)
    return text if text in _OUR_CODES else _FOLDED_NAMES.get(text)


def _text(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _objects(value: object) -> list[Mapping[str, object]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _quantity(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.strip().isdigit() else 0


def _parcel(
    carrier: str | None,
    channel_carrier: object,
    number: object,
    lines: Iterable[tuple[str, int]] = (),
) -> list[CanonicalParcel]:
    tracking_no = _text(number)
    if not tracking_no:
        return []
    return [CanonicalParcel(carrier, _text(channel_carrier), tracking_no, tuple(lines))]


# Shopify fulfillments that no longer stand for a parcel on its way.
_SHOPIFY_DEAD = frozenset({"cancelled", "error", "failure"})


def _shopify(payload: Mapping[str, object]) -> list[CanonicalParcel]:
    parcels: list[CanonicalParcel] = []
    for fulfillment in _objects(payload.get("fulfillments")):
        if _text(fulfillment.get("status")).lower() in _SHOPIFY_DEAD:
            continue
        numbers = fulfillment.get("tracking_numbers")
        number = fulfillment.get("tracking_number") or (
            numbers[0] if isinstance(numbers, list) and numbers else None
        )
        lines = []
        for item in _objects(fulfillment.get("line_items")):
            # The same key the order's lines are read by (mapping.SHOPIFY: sku, else variant).
            sku = _text(item.get("sku")) or _text(item.get("variant_id"))
            if sku and _quantity(item.get("quantity")) > 0:
                lines.append((sku, _quantity(item.get("quantity"))))
        company = fulfillment.get("tracking_company")
        parcels += _parcel(carrier_for_name(company), company, number, lines)
    return parcels


def _taobao(payload: Mapping[str, object]) -> list[CanonicalParcel]:
    """Per sub-order invoice_no + logistics_company, else the trade's out_sid + company_code."""
    grouped: dict[tuple[str, str], list[tuple[str, int]]] = {}
    orders = payload.get("orders")
    items = orders.get("order") if isinstance(orders, Mapping) else orders
    for item in _objects(items):
        number, company = _text(item.get("invoice_no")), _text(item.get("logistics_company"))
        sku = _text(item.get("outer_sku_id")) or _text(item.get("sku_id"))
        sku = sku or _text(item.get("num_iid"))
        if number and sku and _quantity(item.get("num")) > 0:
            grouped.setdefault((company, number), []).append((sku, _quantity(item.get("num"))))
    parcels: list[CanonicalParcel] = []
    for (company, number), lines in grouped.items():
        carrier = _TOP_CODES.get(company.upper()) or carrier_for_name(company)
        parcels += _parcel(carrier, company, number, lines)
    if not parcels:
        code = _text(payload.get("company_code"))
        parcels += _parcel(_TOP_CODES.get(code.upper()), code, payload.get("out_sid"))
    return parcels


def _jd(payload: Mapping[str, object]) -> list[CanonicalParcel]:
    company = _text(payload.get("logisticsId"))
    return _parcel(_JD_IDS.get(company), company, payload.get("waybill"))


def _pinduoduo(payload: Mapping[str, object]) -> list[CanonicalParcel]:
    company = _text(payload.get("logistics_id"))
    return _parcel(_PDD_IDS.get(company), company, payload.get("tracking_number"))


def _douyin(payload: Mapping[str, object]) -> list[CanonicalParcel]:
    parcels: list[CanonicalParcel] = []
    for info in _objects(payload.get("logistics_info")):
        company = info.get("company") or info.get("company_name")
        carrier = carrier_for_name(company) or carrier_for_name(info.get("company_name"))
        parcels += _parcel(carrier, company, info.get("tracking_no"))
    return parcels


READERS: Mapping[SalesChannel, Callable[[Mapping[str, object]], list[CanonicalParcel]]] = (
    MappingProxyType(
        {
            SalesChannel.SHOPIFY: _shopify,
            SalesChannel.TAOBAO: _taobao,
            SalesChannel.TMALL: _taobao,
            SalesChannel.JD: _jd,
            SalesChannel.PINDUODUO: _pinduoduo,
            SalesChannel.DOUYIN: _douyin,
        }
    )
)


def read_parcels(
    channel: SalesChannel, payload: Mapping[str, object]
) -> tuple[CanonicalParcel, ...]:
    """The shipped parcels a payload names, once each (a waybill repeated is one parcel)."""
    reader = READERS.get(channel)
    seen: dict[tuple[str | None, str], CanonicalParcel] = {}
    for parcel in reader(payload) if reader else []:
        seen.setdefault((parcel.carrier_code, parcel.tracking_no.upper()), parcel)
    return tuple(seen.values())
