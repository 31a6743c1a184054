"""The list settings (name=value pairs, time windows, JSON) parsed once, when Settings is made.

Each value is refused with the variable, the bad part and the shape expected, so a typo stops
the start instead of surfacing as a message never sent or a parcel never booked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import time
from typing import TYPE_CHECKING, Any

from backend.logistics.carriers.names import CARRIER_NAMES
from backend.logistics.status import TrackingStatus
from backend.logistics.waybills.registry import PROVIDERS, parse_accounts
from backend.notifications.wechat_data import DEFAULT_LAYOUT
from backend.orders.allocation import parse_lead_times
from backend.orders.channels.ship_confirm.registry import PLATFORMS
from backend.orders.models import SalesChannel
from backend.orders.shops import PUSH_CHANNELS
from backend.profit import parse_commissions
from backend.rulebook.fields import TEMPLATE_EVENTS
from portal.settings_checks import SettingsError, variable_of

if TYPE_CHECKING:
    from portal.settings import Settings

# WeChat's check files are plain names at the root; nothing else may be served there.
VERIFY_FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\.txt")
# Carrier codes are Kuaidi100's company codes; those the portal knows are in CARRIER_NAMES.
CARRIERS = frozenset(CARRIER_NAMES)
SALES_CHANNELS = frozenset(str(channel) for channel in SalesChannel)


@dataclass(frozen=True)
class ParsedLists:
    """The list settings as values, made once per Settings (Settings.lists)."""

    sms_templates: Mapping[str, str]
    wechat_templates: Mapping[str, str]
    miniprogram_templates: Mapping[str, str]
    wechat_template_fields: Mapping[str, str]  # the layout: empty text is DEFAULT_LAYOUT
    waybill_providers: Mapping[str, str]
    sf_op_codes: Mapping[str, TrackingStatus]
    wechatpay_platform_keys: Mapping[str, str]
    channel_secrets: Mapping[str, str]
    ship_confirm_carriers: Mapping[str, Mapping[str, str]]
    ship_confirm_methods: Mapping[str, str]
    transfer_lead_days: Mapping[tuple[str, str], int]
    channel_commissions: Mapping[str, int]  # basis points
    channel_parcels: frozenset[str]
    quiet_hours: tuple[time, time]
    wechat_verify_files: Mapping[str, str]
    kuaidi100_waybill_accounts: Mapping[str, Mapping[str, Any]]


def parse_pairs(
    name: str,
    text: str,
    shape: str,
    keys: Collection[str] | None = None,
    value_ok: Callable[[str], bool] = bool,
) -> dict[str, str]:
    """ "a=1, b=2" -> {"a": "1", "b": "2"}; a part without `=`, with an empty side, a key
    outside `keys` or a value `value_ok` refuses stops the start, naming that part."""
    pairs: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, sep, value = (piece.strip() for piece in part.partition("="))
        if not (sep and key and value_ok(value)):
            raise SettingsError(variable_of(name), f"{part!r} is not {shape}")
        if keys is not None and key not in keys:
            known = ", ".join(sorted(keys))
            raise SettingsError(variable_of(name), f"{part!r}: {key!r} is not one of {known}")
        pairs[key] = value
    return pairs


def parse_words(name: str, text: str, words: Collection[str]) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    for word in sorted(chosen - set(words)):
        raise SettingsError(variable_of(name), f"{word!r} is not one of {', '.join(sorted(words))}")
    return chosen


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """ "22:00-08:00" (or with seconds) -> (22:00, 08:00); equal ends: never quiet."""
    start, sep, end = text.partition("-")
    try:
        if not sep:
            raise ValueError
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        raise SettingsError(
            "PORTAL_QUIET_HOURS", f"{text!r} is not HH:MM-HH:MM, e.g. 22:00-08:00"
        ) from None


def parse_ship_confirm_carriers(text: str) -> dict[str, dict[str, str]]:
    """ "pinduoduo:zhongtong=115" -> {"pinduoduo": {"zhongtong": "115"}}."""
    table: dict[str, dict[str, str]] = {}
    shape = "platform:carrier=code, e.g. pinduoduo:zhongtong=115"
    for key, code in parse_pairs("ship_confirm_carriers", text, shape).items():
        platform, colon, carrier = (piece.strip() for piece in key.partition(":"))
        if not (colon and platform and carrier):
            raise SettingsError("PORTAL_SHIP_CONFIRM_CARRIERS", f"{key!r} is not {shape}")
        if platform not in PLATFORMS:
            known = ", ".join(sorted(PLATFORMS))
            raise SettingsError(
                "PORTAL_SHIP_CONFIRM_CARRIERS", f"{key!r}: {platform!r} is not one of {known}"
            )
        table.setdefault(platform, {})[carrier] = code
    return table


def _wrapped(name: str, parse: Callable[[str], Any], text: str) -> Any:
    """A backend parser's ValueError (it names the part and the shape) with the variable."""
    try:
        return parse(text)
    except ValueError as error:
        raise SettingsError(variable_of(name), str(error)) from None


def _accounts(text: str) -> dict[str, dict[str, Any]]:
    try:
        return parse_accounts(text)
    except ValueError as error:  # json's errors are ValueErrors too
        raise SettingsError(
            "PORTAL_KUAIDI100_WAYBILL_ACCOUNTS",
            f'not a JSON object of carrier objects, e.g. {{"zhongtong":{{"tempId":"..."}}}} '
            f"({error})",
        ) from None


def _verify_files(text: str) -> dict[str, str]:
    files = parse_pairs("wechat_verify_files", text, "NAME.txt=CONTENT")
    for file_name in files:
        if not VERIFY_FILE_NAME.fullmatch(file_name):
            raise SettingsError("PORTAL_WECHAT_VERIFY_FILES", f"{file_name!r} is not a NAME.txt")
    return files


def parse_lists(settings: Settings) -> ParsedLists:
    s = settings
    templates = (
        "event=template, e.g. shipped=SMS_1 (events: " + ", ".join(sorted(TEMPLATE_EVENTS)) + ")"
    )
    statuses = frozenset(str(status) for status in TrackingStatus)
    return ParsedLists(
        sms_templates=parse_pairs("sms_templates", s.sms_templates, templates, TEMPLATE_EVENTS),
        wechat_templates=parse_pairs(
            "wechat_templates", s.wechat_templates, templates, TEMPLATE_EVENTS
        ),
        miniprogram_templates=parse_pairs(
            "wechat_miniprogram_templates",
            s.wechat_miniprogram_templates,
            templates,
            TEMPLATE_EVENTS,
        ),
        wechat_template_fields=parse_pairs(
            "wechat_template_fields", s.wechat_template_fields, "keyword=value, e.g. thing3=detail"
        )
        or dict(DEFAULT_LAYOUT),
        waybill_providers=parse_pairs(
            "waybill_providers",
            s.waybill_providers,
            "carrier=kuaidi100|sf",
            CARRIERS,
            value_ok=PROVIDERS.__contains__,
        ),
        sf_op_codes={
            code: TrackingStatus(status)
            for code, status in parse_pairs(
                "sf_op_codes",
                s.sf_op_codes,
                "opCode=status, statuses: " + ", ".join(sorted(statuses)),
                value_ok=statuses.__contains__,
            ).items()
        },
        wechatpay_platform_keys=parse_pairs(
            "wechatpay_platform_keys", s.wechatpay_platform_keys, "serial=path.pem"
        ),
        channel_secrets=parse_pairs(
            "channel_secrets", s.channel_secrets, "channel=secret", PUSH_CHANNELS
        ),
        ship_confirm_carriers=parse_ship_confirm_carriers(s.ship_confirm_carriers),
        ship_confirm_methods=parse_pairs(
            "ship_confirm_methods", s.ship_confirm_methods, "platform=method", PLATFORMS
        ),
        transfer_lead_days=_wrapped("transfer_lead_days", parse_lead_times, s.transfer_lead_days),
        channel_commissions=_wrapped(
            "channel_commissions", parse_commissions, s.channel_commissions
        ),
        channel_parcels=parse_words("channel_parcels", s.channel_parcels, SALES_CHANNELS),
        quiet_hours=parse_quiet_hours(s.quiet_hours),
        wechat_verify_files=_verify_files(s.wechat_verify_files),
        kuaidi100_waybill_accounts=_accounts(s.kuaidi100_waybill_accounts),
    )
