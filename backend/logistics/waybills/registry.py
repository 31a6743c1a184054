"""Which provider books each carrier's waybills, made from the settings in one place."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from backend.breaker import BreakerChange
from backend.logistics.carriers.base import CircuitBreaker
from backend.logistics.waybills.base import WaybillBooker, WaybillNotConfigured
from backend.logistics.waybills.kuaidi100 import Kuaidi100WaybillClient
from backend.logistics.waybills.sf import (
    DEFAULT_TEMPLATE,
    DUPLICATE_ORDER_CODES,
    ROUTE_LABEL_FIELD,
    SfWaybillClient,
)

PROVIDERS = frozenset({"kuaidi100", "sf"})


@dataclass(frozen=True)
class Kuaidi100WaybillConfig:
    key: str
    secret: str
    api_url: str
    # Per carrier code, the e-waybill fields sent with every order as they are
    # (partnerId, partnerKey, partnerSecret, net, tempId, expType, payType, ...).
    accounts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    print_type: str = "IMAGE"
    printer_siid: str = ""
    poll_callback_url: str = ""
    salt: str = ""


@dataclass(frozen=True)
class SfWaybillConfig:
    partner_id: str
    check_word: str
    url: str
    monthly_card: str
    template_code: str = DEFAULT_TEMPLATE
    express_type_id: int = 2
    pay_method: int = 1
    route_label_field: str = ROUTE_LABEL_FIELD
    duplicate_order_codes: frozenset[str] = DUPLICATE_ORDER_CODES


@dataclass(frozen=True)
class WaybillConfig:
    routes: Mapping[str, str]  # carrier code -> "kuaidi100" | "sf"
    kuaidi100: Kuaidi100WaybillConfig | None = None
    sf: SfWaybillConfig | None = None


def parse_routes(text: str) -> dict[str, str]:
    """ "shunfeng=sf, zhongtong=kuaidi100" -> {"shunfeng": "sf", "zhongtong": "kuaidi100"}."""
    routes: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        carrier, separator, provider = (piece.strip() for piece in pair.partition("="))
        if not separator or not carrier or provider not in PROVIDERS:
            raise ValueError(f"expected carrier=kuaidi100|sf, got {pair!r}")
        routes[carrier] = provider
    return routes


def parse_accounts(text: str) -> dict[str, dict[str, Any]]:
    """The Kuaidi100 accounts setting: a JSON object of carrier code -> field object."""
    if not text.strip():
        return {}
    value = json.loads(text)
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("Kuaidi100 waybill accounts must be a JSON object of objects")
    return value


def booker_for(
    carrier_code: str,
    config: WaybillConfig,
    http: httpx.Client,
    breaker: CircuitBreaker | None = None,
) -> WaybillBooker:
    """A new booker for `carrier_code`; WaybillNotConfigured when none is set up."""
    provider = config.routes.get(carrier_code)
    if provider is None:
        raise WaybillNotConfigured(carrier_code, "no waybill provider for this carrier")
    if provider == "sf" and config.sf is not None:
        sf = config.sf
        return SfWaybillClient(
            http,
            partner_id=sf.partner_id,
            check_word=sf.check_word,
            monthly_card=sf.monthly_card,
            base_url=sf.url,
            template_code=sf.template_code,
            express_type_id=sf.express_type_id,
            pay_method=sf.pay_method,
            route_label_field=sf.route_label_field,
            duplicate_order_codes=sf.duplicate_order_codes,
            breaker=breaker or CircuitBreaker("sf-waybill"),
        )
    if provider == "kuaidi100" and config.kuaidi100 is not None:
        k100 = config.kuaidi100
        return Kuaidi100WaybillClient(
            http,
            key=k100.key,
            secret=k100.secret,
            accounts=k100.accounts,
            api_base_url=k100.api_url,
            print_type=k100.print_type,
            printer_siid=k100.printer_siid,
            poll_callback_url=k100.poll_callback_url,
            salt=k100.salt,
            breaker=breaker or CircuitBreaker("kuaidi100-waybill"),
        )
    raise WaybillNotConfigured(carrier_code, f"{provider} credentials are not set")


class WaybillBookers:
    """One booker per provider for the life of the process, so its breaker sees every call."""

    def __init__(
        self,
        config: WaybillConfig,
        http: httpx.Client,
        *,
        on_change: Callable[[BreakerChange], None] | None = None,
    ) -> None:
        self.config = config
        self._http = http
        self._breakers = {
            name: CircuitBreaker(f"{name}-waybill", on_change=on_change) for name in PROVIDERS
        }
        self._bookers: dict[str, WaybillBooker] = {}

    def for_carrier(self, carrier_code: str) -> WaybillBooker:
        provider = self.config.routes.get(carrier_code, "")
        if provider not in self._bookers:
            booker = booker_for(carrier_code, self.config, self._http, self._breakers.get(provider))
            self._bookers[provider] = booker
        return self._bookers[provider]

    def can_book(self, carrier_code: str) -> bool:
        try:
            self.for_carrier(carrier_code)
        except WaybillNotConfigured:
            return False
        return True
