"""Which warehouse ships each order line: a rule table, pure, no I/O.

The rules, in order: a warehouse must hold the units; then the nearer region wins (the
destination's own province, then its region, then elsewhere); then the lower priority
number. One warehouse for the whole order is preferred; lines are split across warehouses
only when no single one holds them all. A line itself is never split: what no single
warehouse holds becomes a transfer proposal (调拨) or an out-of-stock hold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

# The seven regions of mainland China as logistics in China speaks of them (the usual
# 华东/华北/华南/华中/西南/西北/东北 split); Hong Kong, Macao and Taiwan are counted with
# the region that ships to them.
REGIONS: dict[str, str] = {
    **dict.fromkeys(("北京", "天津", "河北", "山西", "内蒙古"), "华北"),
    **dict.fromkeys(("上海", "江苏", "浙江", "安徽", "福建", "江西", "山东", "台湾"), "华东"),
    **dict.fromkeys(("河南", "湖北", "湖南"), "华中"),
    **dict.fromkeys(("广东", "广西", "海南", "香港", "澳门"), "华南"),
    **dict.fromkeys(("重庆", "四川", "贵州", "云南", "西藏"), "西南"),
    **dict.fromkeys(("陕西", "甘肃", "青海", "宁夏", "新疆"), "西北"),
    **dict.fromkeys(("辽宁", "吉林", "黑龙江"), "东北"),
}
REGION_NAMES = frozenset(REGIONS.values())


class Nearness(IntEnum):
    SAME_PROVINCE = 0
    SAME_REGION = 1
    ELSEWHERE = 2


def province_key(name: str) -> str:
    """浙江省, 浙江 and 广西壮族自治区 all become the table's short name (浙江, 广西)."""
    name = name.strip()
    for short in sorted(REGIONS, key=len, reverse=True):
        if name.startswith(short):
            return short
    return name


def region_of(province: str) -> str | None:
    return REGIONS.get(province_key(province))


@dataclass(frozen=True)
class Candidate:
    id: int
    code: str
    province: str
    serves: tuple[str, ...] = ()  # provinces or region names it serves as if local
    priority: int = 100


@dataclass(frozen=True)
class Line:
    line_id: int
    sku_id: int
    quantity: int


# (warehouse id, sku id) -> units free to reserve (on_hand - reserved).
FreeStock = Mapping[tuple[int, int], int]


def nearness(warehouse: Candidate, destination: str) -> Nearness:
    province = province_key(destination)
    served = {province_key(name) for name in warehouse.serves}
    if province and (province == province_key(warehouse.province) or province in served):
        return Nearness.SAME_PROVINCE
    region = region_of(destination)
    if region is not None and (region == region_of(warehouse.province) or region in served):
        return Nearness.SAME_REGION
    return Nearness.ELSEWHERE


def rank(candidates: Iterable[Candidate], destination: str) -> list[Candidate]:
    """Nearest first, then priority; the code keeps equal ones in a fixed order."""
    return sorted(candidates, key=lambda w: (nearness(w, destination), w.priority, w.code))


@dataclass(frozen=True)
class Plan:
    picks: tuple[tuple[int, int], ...]  # (line id, warehouse id) for every line it could place
    short: tuple[int, ...] = ()  # lines no single warehouse holds

    @property
    def warehouse_ids(self) -> frozenset[int]:
        return frozenset(warehouse for _, warehouse in self.picks)


def _needs(lines: Iterable[Line]) -> dict[int, int]:
    needs: dict[int, int] = defaultdict(int)
    for line in lines:
        needs[line.sku_id] += line.quantity
    return needs


def plan_order(
    lines: Sequence[Line], candidates: Iterable[Candidate], free: FreeStock, destination: str
) -> Plan:
    ranked = rank(candidates, destination)
    needs = _needs(lines)
    for warehouse in ranked:
        if all(free.get((warehouse.id, sku), 0) >= units for sku, units in needs.items()):
            return Plan(tuple((line.line_id, warehouse.id) for line in lines))
    left = dict(free)
    picks: list[tuple[int, int]] = []
    short: list[int] = []
    for line in lines:
        for warehouse in ranked:
            if left.get((warehouse.id, line.sku_id), 0) >= line.quantity:
                left[(warehouse.id, line.sku_id)] -= line.quantity
                picks.append((line.line_id, warehouse.id))
                break
        else:
            short.append(line.line_id)
    return Plan(tuple(picks), tuple(short))


@dataclass(frozen=True)
class LeadTimes:
    """Days a transfer takes between two warehouses; the defaults are assumptions to tune.

    `overrides` maps (from code, to code) to days, for the routes a merchant knows.
    """

    overrides: Mapping[tuple[str, str], int] = field(default_factory=dict)
    same_region_days: int = 1
    other_days: int = 3
    max_days: int = 1  # a transfer slower than this is not proposed: the order waits instead

    def days(self, source: Candidate, target: Candidate) -> int:
        if (source.code, target.code) in self.overrides:
            return self.overrides[(source.code, target.code)]
        same = region_of(source.province) is not None and (
            region_of(source.province) == region_of(target.province)
        )
        return self.same_region_days if same else self.other_days


def parse_lead_times(text: str) -> dict[tuple[str, str], int]:
    """`SH>HZ=1,GZ>SH=2` -> {("SH", "HZ"): 1, ("GZ", "SH"): 2}; a malformed pair raises."""
    table: dict[tuple[str, str], int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        route, _, days = item.partition("=")
        source, _, target = route.partition(">")
        if not (source.strip() and target.strip() and days.strip().isdigit()):
            raise ValueError(f"transfer lead time {item!r}: expected FROM>TO=DAYS")
        table[(source.strip().upper(), target.strip().upper())] = int(days)
    return table


@dataclass(frozen=True)
class Transfer:
    line_id: int
    sku_id: int
    source_id: int
    target_id: int
    quantity: int
    days: int


def propose_transfer(
    line: Line,
    candidates: Iterable[Candidate],
    free: FreeStock,
    destination: str,
    lead_times: LeadTimes,
) -> Transfer | None:
    """The nearest warehouse that another can top up within the lead time, or None."""
    ranked = rank(candidates, destination)
    for target in ranked:
        missing = line.quantity - max(free.get((target.id, line.sku_id), 0), 0)
        if missing <= 0:
            continue
        sources = sorted(
            (w for w in ranked if w.id != target.id),
            key=lambda w: lead_times.days(w, target),
        )
        for source in sources:
            days = lead_times.days(source, target)
            if days <= lead_times.max_days and free.get((source.id, line.sku_id), 0) >= missing:
                return Transfer(line.line_id, line.sku_id, source.id, target.id, missing, days)
    return None


# For callers that reserve but must not propose transfers (a transfer never qualifies).
NO_TRANSFERS = LeadTimes(max_days=-1)
