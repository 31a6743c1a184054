"""Each ship-confirmation client against its loopback platform: accepted, refused, down."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import httpx
import pytest

from backend.orders.channels.ship_confirm.base import (
    ChannelUnavailable,
    ConfirmationRefused,
    Parcel,
    ShipConfirmation,
    ShippedLine,
)
from backend.orders.channels.ship_confirm.registry import ShipConfirmers
from backend.orders.models import SalesChannel
from backend.orders.shops import ShopConfig
from emulators.channels import ChannelEmulator
from emulators.serving import serve_in_thread

SECRET = "platform-secret-0123"


@dataclass(frozen=True)
class Case:
    channel: str
    emulator_platform: str
    key: str  # app key, or Shopify's access token
    refusal: tuple[str, str]
    expected_code: str
    carrier: str  # what the platform is told for "yuantong"


CASES = [
    Case("taobao", "taobao", "top-key", ("isv.logistics-offline-service-error", "运单号不符合规则"),
         "isv.logistics-offline-service-error", "YTO"),
    Case("tmall", "taobao", "tmall-key", ("isv.invalid-parameter", "非法参数"),
         "isv.invalid-parameter", "YTO"),
    Case("pinduoduo", "pinduoduo", "pdd-client", ("20004", "物流公司不存在"), "20004", "85"),
    Case("jd", "jd", "jd-key", ("10400001", "订单已出库"), "10400001", "463"),
    Case("douyin", "douyin", "dy-key", ("isv.business-failed:60021", "订单已取消"), "60021",
         "yuantong"),
    Case("shopify", "shopify", "shpat_token", ("", "Fulfillment order is closed"), "user_errors",
         "YTO Express"),
]  # fmt: skip


@pytest.fixture(params=CASES, ids=lambda case: case.channel)
def platform(request) -> Iterator[tuple[Case, ChannelEmulator, ShopConfig]]:
    case: Case = request.param
    emulator = ChannelEmulator(case.emulator_platform, {case.key: SECRET})
    emulator.shopify_orders["2231958349"] = {"2231958350": 1}
    with serve_in_thread(emulator.app) as url:
        base = {
            "taobao": "/router/rest",
            "pinduoduo": "/api/router",
            "jd": "/routerjson",
        }.get(case.emulator_platform, "")
        shop = ShopConfig(
            code=f"{case.channel}-main",
            channel=SalesChannel(case.channel),
            name="旗舰店",
            app_key="" if case.channel == "shopify" else case.key,
            app_secret=SECRET,
            session_token=case.key if case.channel == "shopify" else "seller-session",
            api_base_url=url + base,
        )
        yield case, emulator, shop


def _confirmation(shop: ShopConfig) -> ShipConfirmation:
    parcel = Parcel("yuantong", "YT0000000000000", (ShippedLine("2231958350", "TEA-1", 1),))
    return ShipConfirmation(shop, "2231958349", (parcel,), True, "ship-1-1")


@pytest.fixture
def confirmers() -> Iterator[ShipConfirmers]:
    with httpx.Client() as http:
        yield ShipConfirmers(http)


def test_an_accepted_confirmation_is_recorded_by_the_platform(platform, confirmers):
    case, emulator, shop = platform
    client = confirmers.for_shop(shop)
    assert client is not None
    client.confirm(_confirmation(shop))
    recorded = emulator.confirmations
    assert [(r.shop, r.order_no, r.carrier, r.waybill) for r in recorded] == [
        (case.key, "2231958349", case.carrier, "YT0000000000000")
    ]


def test_a_refusal_carries_the_platform_code_and_message(platform, confirmers):
    case, emulator, shop = platform
    emulator.refuse("2231958349", *case.refusal)
    client = confirmers.for_shop(shop)
    assert client is not None
    with pytest.raises(ConfirmationRefused) as refused:
        client.confirm(_confirmation(shop))
    assert (refused.value.code, refused.value.message) == (case.expected_code, case.refusal[1])
    assert emulator.confirmations == []


def test_a_platform_that_is_down_is_retryable(platform, confirmers):
    _case, emulator, shop = platform
    emulator.down = True
    client = confirmers.for_shop(shop)
    assert client is not None
    with pytest.raises(ChannelUnavailable):
        client.confirm(_confirmation(shop))
    assert emulator.calls == 1 and emulator.confirmations == []


def test_a_request_signed_with_another_secret_is_refused(platform, confirmers):
    _case, emulator, shop = platform
    forged = replace(shop, app_secret="not-the-secret", session_token=shop.session_token + "x")
    client = confirmers.for_shop(forged)
    assert client is not None
    with pytest.raises(ConfirmationRefused):
        client.confirm(_confirmation(forged))
    assert emulator.confirmations == []


def test_a_repeated_douyin_multi_pack_ships_once(confirmers):
    emulator = ChannelEmulator("douyin", {"dy-key": SECRET})
    with serve_in_thread(emulator.app) as url:
        shop = ShopConfig(
            "dy-brand", SalesChannel.DOUYIN, "抖店", app_key="dy-key", app_secret=SECRET,
            session_token="token", api_base_url=url,
        )  # fmt: skip
        parcel = Parcel("shunfeng", "SF1234567890123", (ShippedLine("4987654323", "B", 2),))
        split = ShipConfirmation(shop, "4987654321A", (parcel,), False, "ship-42-7")
        client = confirmers.for_shop(shop)
        assert client is not None
        first = client.confirm(split)
        again = client.confirm(split)  # an answer lost, the job runs again: same request_id
    assert first.reference == again.reference == "ship-42-7-0"
    assert [(r.order_no, r.waybill, r.lines) for r in emulator.confirmations] == [
        ("4987654321A", "SF1234567890123", (("4987654323", 2),))
    ]
