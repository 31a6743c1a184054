"""Split a pasted address blob (name, phone and address in any order) into address-form fields."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from backend.orders.divisions import (
    NameMatch,
    is_municipality,
    match_city_at,
    match_district_at,
    match_province_at,
)
from backend.phones import MOBILE_IN_TEXT, normalize_mobile

# A pasted address is a few dozen characters; the cap bounds the work a hostile paste can cause.
MAX_INPUT_LENGTH = 1000
# Two-character district names (城区, 东区, 郊区) are too generic to trust without a city first.
MIN_UNANCHORED_DISTRICT_LENGTH = 3

_MARKUP_BLOCK = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>|[<>]")
# Country code as +86, 0086, (+86), or 86- as Taobao and JD exports write it.
_CHUNK_SEPARATORS = re.compile(r"[\n,;:、。|]+")
_LABELS = (
    "收货人姓名",
    "收件人姓名",
    "收货人",
    "收件人",
    "联系人",
    "姓名",
    "名字",
    "手机号码",
    "手机号",
    "联系电话",
    "联系方式",
    "电话号码",
    "电话",
    "手机",
    "收货地址",
    "收件地址",
    "详细地址",
    "所在地区",
    "地区",
    "地址",
    "邮政编码",
    "邮编",
)
_LABEL_PREFIX = re.compile(
    r"^(?:(?:" + "|".join(sorted(_LABELS, key=len, reverse=True)) + r")\s*)+"
)
_FILLERS = frozenset({*_LABELS, "收", "(收)"})
_POSTCODE = re.compile(r"\d{6}")
# 李四(收), 李四 收, (收)李四: the parcel is "for" the person, the mark is not part of the name.
_RECEIVER_MARK = re.compile(r"^\(收\)\s*|\s*\(?收\)?$")
_CJK_NAME = re.compile(r"[\u4e00-\u9fff][\u4e00-\u9fff·]{1,7}")
_LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z .'\-]{1,29}")
_ADDRESS_ENDINGS = tuple("省市区县镇乡村路街道巷弄号室栋幢楼层")
# After a short form, these mean the text names a road or a place, not the division:
# 杭州西湖大道 is a road in 上城区, 中山路 is not 中山市.
_ROAD_CHARACTERS = frozenset("路街道巷弄里号桥")
_ROAD_WORDS = ("大道", "大街", "大桥", "广场", "公园")
_COUNTY_SUFFIXES = frozenset("区县")
_ABSORBED_SUFFIXES = frozenset("区县市镇乡")
_STREET_TRIM = " -,.:;_/\\"


class AddressField(StrEnum):
    RECIPIENT_NAME = "recipient_name"
    PHONE = "phone"
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"


@dataclass(frozen=True)
class ParsedAddress:
    """Suggestions for the address form: the customer confirms them and the form validates them."""

    recipient_name: str | None
    phone: str | None
    province: str | None
    city: str | None
    district: str | None
    street: str | None
    unresolved: tuple[AddressField, ...]


@dataclass(frozen=True)
class _Located:
    start: int
    end: int
    province: str
    city: str | None
    district: str | None

    @property
    def levels(self) -> int:
        return 1 + (self.city is not None) + (self.district is not None)


class _DivisionReader:
    """Reads province, city and district in that order from one position; each may be missing."""

    def __init__(self, text: str, start: int) -> None:
        self.text = text
        self.start = self.position = start
        self.province: str | None = None
        self.city: str | None = None
        self.district: str | None = None
        self.first_was_alias: bool | None = None
        self.explicit_levels = 0
        self.implicit_city = False

    def read(self) -> _Located | None:
        self._read_province()
        self._read_city()
        self._read_district()
        if self.province is None:
            return None
        # A lone short form (湖南大学, 东方大厦) is a word, not an address; 上海张杨路 is one.
        if self.first_was_alias and self.explicit_levels + self.implicit_city < 2:
            return None
        return _Located(self.start, self.position, self.province, self.city, self.district)

    def _read_province(self) -> None:
        province = match_province_at(self.text, self.position)
        city = match_city_at(self.text, self.position)
        # 吉林市 is a city in 吉林省, and 海南州 one in 青海: the longer reading wins.
        usable = self._usable(province, county_suffix_rejects=True)
        if usable and not (city and city.length > usable.length):
            self._advance(usable)

    def _read_city(self) -> None:
        usable = self._usable(
            match_city_at(self.text, self.position, self.province), county_suffix_rejects=True
        )
        if usable:
            self._advance(usable)
        elif self.province is not None and is_municipality(self.province):
            self.city, self.implicit_city = self.province, True

    def _read_district(self) -> None:
        if self.province is None:
            match = match_district_at(self.text, self.position, allow_alias=False)
            if match and match.length < MIN_UNANCHORED_DISTRICT_LENGTH:
                match = None
        else:
            match = match_district_at(self.text, self.position, self.province, self.city)
        usable = self._usable(match)
        if usable:
            self._advance(usable, absorb_suffix=True)

    def _usable(
        self, match: NameMatch | None, *, county_suffix_rejects: bool = False
    ) -> NameMatch | None:
        # Two places with the same name (朝阳区 in 北京 and 长春): leave the text for the street.
        if match is None or len(match.candidates) != 1:
            return None
        if not match.is_alias:
            return match
        after = self.text[self.position + match.length :]
        if after[:1] in _ROAD_CHARACTERS or after.startswith(_ROAD_WORDS):
            return None
        # 朝阳 followed by 区 is 朝阳区, not 朝阳市.
        if county_suffix_rejects and after[:1] in _COUNTY_SUFFIXES:
            return None
        return match

    def _advance(self, match: NameMatch, *, absorb_suffix: bool = False) -> None:
        if self.first_was_alias is None:
            self.first_was_alias = match.is_alias
        self.explicit_levels += 1
        division = match.candidates[0]
        self.province = division.province
        self.city = division.city or self.city
        self.district = division.district
        end = self.position + match.length
        # 东城区 written for 东莞's 东城街道: the customer's suffix is not part of the street.
        if absorb_suffix and match.is_alias and self.text[end : end + 1] in _ABSORBED_SUFFIXES:
            end += 1
        while end < len(self.text) and self.text[end].isspace():
            end += 1
        self.position = end


def _clean_character(character: str) -> str:
    if character in "\r\n\u2028\u2029\x0b\x0c\x85":
        return "\n"
    category = unicodedata.category(character)
    if category == "Cf":
        return ""
    return " " if category.startswith("C") else character


def _clean(text: str) -> str:
    """NFKC (full-width digits and punctuation from input methods), without markup or controls."""
    text = unicodedata.normalize("NFKC", text[:MAX_INPUT_LENGTH])
    text = _TAG.sub(" ", _MARKUP_BLOCK.sub(" ", text))
    return "".join(_clean_character(character) for character in text)


def _take_phone(text: str) -> tuple[str | None, str]:
    """The first mainland mobile number, and the text with every number cut out."""
    phones = [normalize_mobile(match.group()) for match in MOBILE_IN_TEXT.finditer(text)]
    # Cut points become separators, so 张三13800138000浙江... still splits into name and address.
    return next((phone for phone in phones if phone), None), MOBILE_IN_TEXT.sub("\n", text)


def _split_chunks(text: str) -> list[str]:
    chunks = []
    for piece in _CHUNK_SEPARATORS.split(text):
        tokens = _LABEL_PREFIX.sub("", piece.strip()).split()
        kept = [t for t in tokens if t not in _FILLERS and not _POSTCODE.fullmatch(t)]
        if kept:
            chunks.append(" ".join(kept))
    return chunks


def _without_receiver_mark(text: str) -> str:
    stripped = _RECEIVER_MARK.sub("", text)
    return stripped if len(stripped) >= 2 else text


def _is_name_like(text: str) -> bool:
    text = _without_receiver_mark(text)
    if text.endswith(_ADDRESS_ENDINGS) or text in _FILLERS:
        return False
    if _CJK_NAME.fullmatch(text):
        return True
    return bool(_LATIN_NAME.fullmatch(text)) and len(text.split()) <= 4


def _names_a_place(text: str) -> bool:
    matches = (match_province_at(text, 0), match_city_at(text, 0), match_district_at(text, 0))
    return any(match and match.length == len(text) for match in matches)


def _pick_name(chunks: list[str]) -> tuple[str | None, list[str]]:
    """The chunk that reads as a person's name; a bare place name (黄山) only as a last resort."""
    candidates = [index for index, chunk in enumerate(chunks) if _is_name_like(chunk)]
    if not candidates:
        return None, chunks
    people = [index for index in candidates if not _names_a_place(chunks[index])]
    chosen = (people or candidates)[0]
    return _without_receiver_mark(chunks[chosen]), chunks[:chosen] + chunks[chosen + 1 :]


def _locate(text: str) -> _Located | None:
    """The reading with most levels; the earliest wins a tie, as addresses come first."""
    best: _Located | None = None
    for start in range(len(text)):
        found = _DivisionReader(text, start).read()
        if found and (best is None or found.levels > best.levels):
            best = found
    return best


def _complete_name(name: str | None, prefix: str, street: str) -> tuple[str | None, str]:
    """The name written around the address: before it (王五 广东深圳...) or after the street."""
    if name is not None:
        return name, street
    # The whole prefix first (Li Lei), then its words (张三 0571-88888888 before the address).
    for candidate in (prefix, *prefix.split()):
        if _is_name_like(candidate):
            return _without_receiver_mark(candidate), street
    tokens = street.split()
    # Latin names span tokens (Li Lei); a Chinese name is one.
    for count in range(min(4, len(tokens) - 1), 0, -1):
        candidate = " ".join(tokens[-count:])
        if _is_name_like(candidate):
            return _without_receiver_mark(candidate), " ".join(tokens[:-count])
    return None, street


def _tidy_street(street: str) -> str | None:
    street = " ".join(street.split()).strip(_STREET_TRIM)
    # Punctuation or emoji alone is not a street worth suggesting.
    return street if any(character.isalnum() for character in street) else None


def parse_address(text: str) -> ParsedAddress:
    """Best-effort split of pasted text; never raises, and says which fields it could not find."""
    phone, remainder = _take_phone(_clean(text))
    name, address_chunks = _pick_name(_split_chunks(remainder))
    address = " ".join(address_chunks)
    located = _locate(address)
    if located is None:
        # No division to anchor on: only a leading name (张三 文三路100号) can be told apart.
        head, _, rest = address.partition(" ")
        prefix, street = (head, rest) if rest and _is_name_like(head) else ("", address)
    else:
        prefix, street = address[: located.start].strip(), address[located.end :]
    name, street = _complete_name(name, prefix, street)
    fields = {
        AddressField.RECIPIENT_NAME: name,
        AddressField.PHONE: phone,
        AddressField.PROVINCE: located.province if located else None,
        AddressField.CITY: located.city if located else None,
        AddressField.DISTRICT: located.district if located else None,
        AddressField.STREET: _tidy_street(street),
    }
    return ParsedAddress(
        recipient_name=fields[AddressField.RECIPIENT_NAME],
        phone=fields[AddressField.PHONE],
        province=fields[AddressField.PROVINCE],
        city=fields[AddressField.CITY],
        district=fields[AddressField.DISTRICT],
        street=fields[AddressField.STREET],
        unresolved=tuple(field for field, value in fields.items() if value is None),
    )
