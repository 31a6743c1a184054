"""Mainland China's provinces, cities and districts, read once from the bundled NBS-derived file."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# Produced by scripts/update_divisions.py; the file itself names its source package and version.
DATA_PACKAGE = "backend.orders"
DATA_PATH = ("data", "divisions.json")

# Minority names as they appear inside 自治区/自治州/自治县 names, so that 恩施土家族苗族自治州
# can be matched as 恩施. Some official names drop the 族 (博尔塔拉蒙古自治州); a one-character
# group without 族 (白, 水, 土) is left alone because it is too likely to be part of the place.
# fmt: off
_ETHNIC_GROUPS = (
    "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满",
    "侗", "瑶", "白", "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤",
    "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇", "柯尔克孜", "土", "达斡尔",
    "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米", "塔吉克",
    "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔", "独龙",
    "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
)
# fmt: on
_ETHNIC_TOKENS = tuple(
    sorted(
        [group + "族" for group in _ETHNIC_GROUPS] + [g for g in _ETHNIC_GROUPS if len(g) > 1],
        key=len,
        reverse=True,
    )
)
PROVINCE_SUFFIXES = ("自治区", "省", "市")
CITY_SUFFIXES = ("自治州", "自治县", "地区", "林区", "盟", "市", "县")
DISTRICT_SUFFIXES = ("自治县", "自治旗", "新区", "林区", "街道", "区", "县", "市", "旗", "镇", "乡")
# Below two characters a short form (城区 -> 城) would match inside ordinary words.
MIN_ALIAS_LENGTH = 2


@dataclass(frozen=True)
class Division:
    """A place at province, city or district level; the lower levels are None above it."""

    province: str
    city: str | None = None
    district: str | None = None


@dataclass(frozen=True)
class NameMatch:
    """The longest name found at a position: every division it could mean, and its length."""

    candidates: tuple[Division, ...]
    length: int
    is_alias: bool


@dataclass(frozen=True)
class _City:
    code: str
    districts: dict[str, str]


@dataclass(frozen=True)
class _Province:
    code: str
    cities: dict[str, _City]


@dataclass(frozen=True)
class _NameIndex:
    full: dict[str, tuple[Division, ...]]
    alias: dict[str, tuple[Division, ...]]
    longest: int
    # Most positions in a pasted text start no name at all; this lets a scan skip them cheaply.
    initials: frozenset[str]


@cache
def _load() -> tuple[dict[str, _Province], dict[str, str]]:
    resource = resources.files(DATA_PACKAGE).joinpath(*DATA_PATH)
    document: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    provinces = {
        province["name"]: _Province(
            code=province["code"],
            cities={
                city["name"]: _City(
                    code=city["code"],
                    districts={name: code for code, name in city["districts"].items()},
                )
                for city in province["cities"]
            },
        )
        for province in document["provinces"]
    }
    return provinces, dict(document["source"])


def _tree() -> dict[str, _Province]:
    return _load()[0]


def get_data_source() -> Mapping[str, str]:
    """Package, version and licence of the bundled data, for an about page or a support ticket."""
    return dict(_load()[1])


def list_provinces() -> list[str]:
    return list(_tree())


def list_cities(province: str) -> list[str]:
    entry = _tree().get(province)
    return list(entry.cities) if entry else []


def list_districts(province: str, city: str) -> list[str]:
    entry = _tree().get(province)
    city_entry = entry.cities.get(city) if entry else None
    return list(city_entry.districts) if city_entry else []


def is_valid_division(province: str, city: str, district: str) -> bool:
    return bool(district) and get_division_code(province, city, district) is not None


def is_municipality(province: str) -> bool:
    """北京/天津/上海/重庆: the only city carries the province's own name."""
    return list_cities(province) == [province]


def get_division_code(
    province: str, city: str | None = None, district: str | None = None
) -> str | None:
    """The code of the most specific level given, or None when that path does not exist."""
    entry = _tree().get(province)
    if entry is None or city is None:
        return entry.code if entry else None
    city_entry = entry.cities.get(city)
    if city_entry is None or district is None:
        return city_entry.code if city_entry else None
    return city_entry.districts.get(district)


def _strip_ethnic_groups(base: str) -> str:
    """恩施土家族苗族 -> 恩施; 博尔塔拉蒙古 -> 博尔塔拉; 内蒙古 stays (内 alone is no name)."""
    while True:
        for token in _ETHNIC_TOKENS:
            rest = base.removesuffix(token)
            if rest != base and len(rest) >= MIN_ALIAS_LENGTH:
                base = rest
                break
        else:
            return base


def short_forms(name: str, suffixes: Iterable[str]) -> list[str]:
    """What people write instead of the official name: 广东省 -> 广东, 恩施...州 -> 恩施/恩施州."""
    for suffix in suffixes:
        if not name.endswith(suffix):
            continue
        base = name.removesuffix(suffix)
        if suffix.startswith("自治"):
            base = _strip_ethnic_groups(base)
        if len(base) < MIN_ALIAS_LENGTH:
            return []
        forms = [base]
        if suffix == "自治州":
            forms.append(base + "州")
        return forms
    return []


def _without_city_prefix(district: str, city: str) -> list[str]:
    """苏州工业园区 -> 工业园区: NBS prefixes development zones with their city's name."""
    for prefix in (city, *short_forms(city, CITY_SUFFIXES)):
        rest = district.removeprefix(prefix)
        if rest != district and len(rest) >= MIN_ALIAS_LENGTH and "族" not in rest:
            return [rest]
    return []


def _build_index(entries: Iterable[tuple[str, Division]], suffixes: tuple[str, ...]) -> _NameIndex:
    full: dict[str, list[Division]] = {}
    alias: dict[str, list[Division]] = {}
    for name, division in entries:
        full.setdefault(name, []).append(division)
        forms = short_forms(name, suffixes)
        if division.district is not None and division.city is not None:
            forms += _without_city_prefix(name, division.city)
        for form in forms:
            alias.setdefault(form, []).append(division)
    longest = max(len(name) for name in (*full, *alias))
    return _NameIndex(
        full={name: tuple(found) for name, found in full.items()},
        alias={name: tuple(found) for name, found in alias.items()},
        longest=longest,
        initials=frozenset(name[0] for name in (*full, *alias)),
    )


@cache
def _province_index() -> _NameIndex:
    return _build_index(((name, Division(name)) for name in _tree()), PROVINCE_SUFFIXES)


@cache
def _city_index() -> _NameIndex:
    entries = [
        (city, Division(province, city))
        for province, entry in _tree().items()
        for city in entry.cities
    ]
    # NBS and some shop exports write 北京市市辖区朝阳区; read 市辖区 as the municipality's city.
    entries += [("市辖区", Division(p, p)) for p in _tree() if is_municipality(p)]
    return _build_index(entries, CITY_SUFFIXES)


@cache
def _district_index() -> _NameIndex:
    entries = [
        (district, Division(province, city, district))
        for province, entry in _tree().items()
        for city, city_entry in entry.cities.items()
        for district in city_entry.districts
    ]
    return _build_index(entries, DISTRICT_SUFFIXES)


def _match(
    index: _NameIndex, text: str, start: int, scope: Division | None, *, allow_alias: bool
) -> NameMatch | None:
    """Longest full name or short form at text[start:] that lies inside scope."""

    def in_scope(division: Division) -> bool:
        if scope is None:
            return True
        if division.province != scope.province:
            return False
        return scope.city is None or division.city == scope.city

    if start >= len(text) or text[start] not in index.initials:
        return None
    for length in range(min(index.longest, len(text) - start), MIN_ALIAS_LENGTH - 1, -1):
        piece = text[start : start + length]
        tables = (index.full, index.alias) if allow_alias else (index.full,)
        for table in tables:
            found = tuple(d for d in table.get(piece, ()) if in_scope(d))
            if found:
                return NameMatch(found, length, is_alias=table is index.alias)
    return None


def match_province_at(text: str, start: int) -> NameMatch | None:
    """浙江省 or 浙江 at text[start:]."""
    return _match(_province_index(), text, start, None, allow_alias=True)


def match_city_at(
    text: str, start: int, province: str | None = None, *, allow_alias: bool = True
) -> NameMatch | None:
    """杭州市 or 杭州 at text[start:], within the province when one is known."""
    scope = Division(province) if province else None
    return _match(_city_index(), text, start, scope, allow_alias=allow_alias)


def match_district_at(
    text: str,
    start: int,
    province: str | None = None,
    city: str | None = None,
    *,
    allow_alias: bool = True,
) -> NameMatch | None:
    """西湖区 or 西湖 at text[start:], within the province and city when they are known."""
    scope = Division(province, city) if province else None
    return _match(_district_index(), text, start, scope, allow_alias=allow_alias)
