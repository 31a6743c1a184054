"""Carrier display names in Chinese and English, keyed by Kuaidi100's company codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CarrierName:
    chinese: str
    english: str  # the name the carrier uses for itself in English

    def in_locale(self, locale: str) -> str:
        return self.english if locale.lower().startswith("en") else self.chinese


CARRIER_NAMES: dict[str, CarrierName] = {
    "shunfeng": CarrierName("顺丰速运", "SF Express"),
    "yuantong": CarrierName("圆通速递", "YTO Express"),
    "zhongtong": CarrierName("中通快递", "ZTO Express"),
    "yunda": CarrierName("韵达快递", "Yunda Express"),
    "shentong": CarrierName("申通快递", "STO Express"),
    "jd": CarrierName("京东物流", "JD Logistics"),
    "jtexpress": CarrierName("极兔速递", "J&T Express"),
    "ems": CarrierName("EMS", "EMS"),
    "youzhengguonei": CarrierName("邮政快递包裹", "China Post"),
    "debangkuaidi": CarrierName("德邦快递", "Deppon Express"),
    "sandbox": CarrierName("演示快递", "Demo Express"),
}


def carrier_name(code: str, locale: str = "zh_CN") -> str:
    """Chinese unless English is asked for (messages to customers are Chinese); unknown codes
    are shown as they are, never guessed."""
    name = CARRIER_NAMES.get(code)
    return name.in_locale(locale) if name else code


# What staff type in a sheet's 快递公司 column besides our codes and the full names above.
_SHORT_NAME_SUFFIXES = ("快递包裹", "速运", "速递", "快递", "物流")
_EXTRA_NAMES = {"顺丰快递": "shunfeng", "邮政": "youzhengguonei", "中国邮政": "youzhengguonei"}


def _folded(text: str) -> str:
    return "".join(text.split()).lower()


def _names_to_codes() -> dict[str, str]:
    names = {_folded(extra): code for extra, code in _EXTRA_NAMES.items()}
    for code, name in CARRIER_NAMES.items():
        names[_folded(code)] = code
        names[_folded(name.chinese)] = code
        names[_folded(name.english)] = code
        for suffix in _SHORT_NAME_SUFFIXES:
            if name.chinese.endswith(suffix) and len(name.chinese) > len(suffix) + 1:
                names.setdefault(name.chinese[: -len(suffix)], code)
                break
    return names


_CODES_BY_NAME = _names_to_codes()


def find_carrier_code(text: str) -> str | None:
    """Our carrier code for a code or a name as people write it (顺丰, 顺丰速运, SF Express,
    shunfeng); None when it names no carrier we know, never a near guess."""
    return _CODES_BY_NAME.get(_folded(text))
