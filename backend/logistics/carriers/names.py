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
