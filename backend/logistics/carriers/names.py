"""Carrier display names, keyed by Kuaidi100's company codes."""

from __future__ import annotations

CARRIER_NAMES: dict[str, str] = {
    "shunfeng": "顺丰速运",
    "yuantong": "圆通速递",
    "zhongtong": "中通快递",
    "yunda": "韵达快递",
    "shentong": "申通快递",
    "jd": "京东物流",
    "jtexpress": "极兔速递",
    "ems": "EMS",
    "youzhengguonei": "邮政快递包裹",
    "debangkuaidi": "德邦快递",
    "sandbox": "演示快递",
}


def carrier_name(code: str) -> str:
    return CARRIER_NAMES.get(code, code)
