"""A message's values as a WeChat template's keywords, each fitted to its keyword's type."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from backend.clock import in_shanghai
from backend.notifications.models import NotificationEvent
from backend.notifications.wechat_subscribe import fit_value, keyword_kind

# Which of our values fills which keyword. The keywords (thing2, time4...) are those of the
# template the merchant picked in WeChat's library, so PORTAL_WECHAT_TEMPLATE_FIELDS can
# replace this; this layout is the one the demo and the tests use.
DEFAULT_LAYOUT: dict[str, str] = {
    "character_string1": "order",
    "phrase2": "status",
    "thing3": "detail",
    "time4": "time",
}
# phrase takes at most 5 Chinese characters and nothing else (docs/protocols.md,
# "WeChat subscribe messages / Value limits"), so each event has a fixed short word.
STATUS_PHRASES: dict[NotificationEvent, str] = {
    NotificationEvent.SHIPPED: "已发货",
    NotificationEvent.OUT_FOR_DELIVERY: "派送中",
    NotificationEvent.AVAILABLE_FOR_PICKUP: "待取件",
    NotificationEvent.DELIVERED: "已签收",
    NotificationEvent.FAILED_ATTEMPT: "投递失败",
    NotificationEvent.EXCEPTION: "物流异常",
    NotificationEvent.ADDRESS_CHANGED: "地址已改",
    NotificationEvent.ADDRESS_REQUEST_APPROVED: "已同意",
    NotificationEvent.ADDRESS_REQUEST_REJECTED: "未通过",
    NotificationEvent.REFUND_SUCCEEDED: "已退款",
    NotificationEvent.EXCHANGE_RELEASED: "换货待发",
    NotificationEvent.REFUSE_DELIVERY: "请拒收",
}
# Emoji and other pictographs are dropped: WeChat's limits count Chinese characters,
# letters, digits and symbols only (docs/protocols.md, "WeChat subscribe messages /
# Template data").
_PICTOGRAPHS = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d]")
_NOT_HAN = re.compile(r"[^\u4e00-\u9fff]")
_NOT_ASCII = re.compile(r"[^\x21-\x7e]")


def parse_layout(text: str) -> dict[str, str]:
    """ "character_string1=order,thing3=detail" -> a layout; empty text: DEFAULT_LAYOUT."""
    layout = {}
    for part in text.split(","):
        keyword, sep, name = part.partition("=")
        if sep and keyword.strip() and name.strip():
            layout[keyword.strip()] = name.strip()
    return layout or dict(DEFAULT_LAYOUT)


def message_values(
    event: NotificationEvent, params: Mapping[str, object], at: datetime
) -> dict[str, str]:
    """What a template may show: the stored params plus status, detail and time."""
    values = {name: str(value) for name, value in params.items() if name != "code"}
    carrier, waybill = values.get("carrier", ""), values.get("waybill", "")
    detail = " ".join(part for part in (carrier, waybill) if part)
    for name in ("reason", "region", "amount"):
        detail = detail or values.get(name, "")
    values["status"] = STATUS_PHRASES[event]
    values["detail"] = detail or STATUS_PHRASES[event]
    # 24-hour time with a date, one of the forms WeChat's time type takes.
    values["time"] = in_shanghai(at).strftime("%Y年%m月%d日 %H:%M")
    return values


def _clean(keyword: str, value: str) -> str:
    kind = keyword_kind(keyword)
    value = _PICTOGRAPHS.sub("", value).strip()
    if kind == "phrase":
        return _NOT_HAN.sub("", value)
    if kind == "character_string":
        return _NOT_ASCII.sub("", value)
    return value


def build_template_data(layout: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """{keyword: value} for subscribe/send; keywords whose value is missing are left out.

    A thing is shortened with an ellipsis, a phrase cut; a character_string too long is
    refused by fit_value (NotificationRejected) rather than sent as a wrong number.
    """
    data = {}
    for keyword, name in layout.items():
        value = _clean(keyword, values.get(name, ""))
        if value:
            data[keyword] = fit_value(keyword, value)
    return data
