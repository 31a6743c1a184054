"""换货 on a phone: a variant that sold out meanwhile is refused with nothing reserved, then an
in-stock one is reserved, the old unit posted back, and the carrier's scan releases the new one."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.db import Database
from backend.exchanges.lifecycle import ExchangeStatus
from backend.exchanges.models import Exchange
from backend.logistics.service import RETURN_PARCEL_MOVED, record_tracking_update
from backend.orders import inventory
from backend.orders.inventory import SkuVariant
from backend.orders.models import HoldReason, Order, Sku
from portal.settings import Settings
from tests.browser.parcels import CARRIER_ACTOR, route_to_hangzhou, sms_link
from tests.channel_shops import run_jobs
from tests.exchange_setup import SHIRT, delivered_shirt_order, seed_shirts
from tests.factories import SYSTEM

pytestmark = pytest.mark.browser

# Looked at by people at both phone widths; docs/screenshots/exchange-*.png are copies of them.
SCREENSHOTS = "exchange-{name}{width}.png"


def snap_both_widths(page: Page, name: str, directory: Path) -> None:
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        page.screenshot(
            path=str(directory / SCREENSHOTS.format(name=name, width=width)), full_page=True
        )
    page.set_viewport_size({"width": 390, "height": 844})


def exchanges_of(database: Database, order_id: int) -> list[Exchange]:
    with database.read() as session:
        return list(session.scalars(select(Exchange).where(Exchange.order_id == order_id)))


def reserved(database: Database, sku_id: int) -> int:
    with database.read() as session:
        sku = session.get(Sku, sku_id)
        assert sku is not None
        return sku.reserved


def count_white_l(database: Database, on_hand: int) -> None:
    """The warehouse's shelf count, as staff enter it on the SKU page."""
    variant = SkuVariant(SHIRT, "L / 白色", None)
    inventory.save_sku(
        database, "TEE-L-WHITE", "经典圆领T恤", on_hand, None, SYSTEM, variant=variant
    )


def test_an_exchange_on_a_phone_refused_when_sold_out_then_reserved_posted_and_released(
    page: Page, live_server: str, database: Database, settings: Settings, tmp_path: Path
) -> None:
    skus = seed_shirts(database)
    order, _line = delivered_shirt_order(database)
    page.goto(sms_link(database, order.id))
    page.get_by_role("link", name="换货").click()
    expect(page.get_by_role("heading", name="选择想换的尺码或颜色")).to_be_visible()
    expect(page.get_by_role("radio", name="L / 黑色")).to_be_disabled()  # sold out

    # The customer picks the white L; the last ones are sold before they tap the button.
    page.get_by_role("radio", name="L / 白色").check()
    count_white_l(database, 0)
    page.get_by_role("button", name="换成这一款").click()
    expect(page.get_by_role("alert")).to_contain_text("刚刚售罄")
    assert exchanges_of(database, order.id) == []
    assert reserved(database, skus["TEE-L-WHITE"]) == 0
    snap_both_widths(page, "refused-", tmp_path)

    count_white_l(database, 3)
    page.goto(page.url)  # a fresh GET of the page (a reload would post the form again)
    page.get_by_role("radio", name="L / 白色").check()
    page.get_by_role("button", name="换成这一款").click()
    expect(page.get_by_role("heading", name="等待您寄回商品")).to_be_visible()
    [exchange] = exchanges_of(database, order.id)
    assert exchange.status == ExchangeStatus.AWAITING_PARCEL
    assert reserved(database, skus["TEE-L-WHITE"]) == 1
    expect(page.get_by_text("已为您预留")).to_be_visible()
    snap_both_widths(page, "awaiting-", tmp_path)

    page.get_by_label("快递公司").select_option("shunfeng")
    page.get_by_label("运单号").fill("SF1234567890")
    page.get_by_role("button", name="我已寄出").click()
    expect(page.get_by_role("heading", name="退回商品运输中")).to_be_visible()
    [exchange] = exchanges_of(database, order.id)
    assert exchange.status == ExchangeStatus.PARCEL_SENT

    # The carrier's first scan of the return parcel, merged as a carrier push is, then the
    # app's own RETURN_PARCEL_MOVED handler run by a real worker.
    record_tracking_update(
        database,
        "shunfeng",
        "SF1234567890",
        route_to_hangzhou()[:2],
        source="kuaidi100",
        full_history=False,
        actor=CARRIER_ACTOR,
    )
    run_jobs(database, settings, RETURN_PARCEL_MOVED)
    page.reload()
    expect(page.get_by_role("heading", name="快递已揽收退回商品")).to_be_visible()
    expect(page.get_by_text("已揽收", exact=True)).to_be_visible()  # the return parcel's status
    expect(page.get_by_text("已通知仓库，即将发货")).to_be_visible()
    with database.read() as session:
        replacement = session.get(Order, exchange.replacement_order_id)
        assert replacement is not None and replacement.hold_reason != HoldReason.AWAITING_RETURN
    snap_both_widths(page, "", tmp_path)
    for png in tmp_path.glob("exchange-*.png"):
        assert png.stat().st_size > 10_000
