"""Which adapter confirms for which platform, and the carrier tables in force, made once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from backend.orders.channels.ship_confirm import douyin, jd, pinduoduo, shopify, taobao
from backend.orders.channels.ship_confirm.base import (
    CarrierTable,
    ShipConfirmer,
    merge_carriers,
)
from backend.orders.shops import ShopConfig

# Tmall is Taobao's platform for ship confirmation: the same gateway, API and codes.
TABLE_OF = {"tmall": "taobao"}
DEFAULT_CARRIERS: Mapping[str, CarrierTable] = {
    "taobao": taobao.CARRIERS,
    "pinduoduo": pinduoduo.CARRIERS,
    "jd": jd.CARRIERS,
    "douyin": douyin.CARRIERS,
    "shopify": shopify.CARRIERS,
}
PLATFORMS = frozenset({"taobao", "tmall", "pinduoduo", "jd", "douyin", "shopify"})


@dataclass(frozen=True)
class ShipConfirmers:
    """Made from the settings in one place (portal/integrations.py) and passed to the worker."""

    http: httpx.Client
    carriers: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: merge_carriers(DEFAULT_CARRIERS, {})
    )
    methods: Mapping[str, str] = field(default_factory=dict)

    def table(self, platform: str) -> Mapping[str, str]:
        return self.carriers.get(TABLE_OF.get(platform, platform), {})

    def for_shop(self, shop: ShopConfig) -> ShipConfirmer | None:
        """The client for the shop's platform; None: no ship API for it (own shop, manual)."""
        platform = str(shop.channel)
        table, method = self.table(platform), self.methods.get(TABLE_OF.get(platform, platform))
        if platform in ("taobao", "tmall"):
            return taobao.TopShipClient(self.http, table, method or taobao.METHOD)
        if platform == "pinduoduo":
            return pinduoduo.PddShipClient(self.http, table, method or pinduoduo.METHOD)
        if platform == "jd":
            return jd.JdShipClient(self.http, table, method or jd.METHOD)
        if platform == "douyin":
            return douyin.DouyinShipClient(self.http, table)
        if platform == "shopify":
            return shopify.ShopifyShipClient(self.http, table, method or shopify.API_VERSION)
        return None
