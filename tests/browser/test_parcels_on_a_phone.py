"""An order in three parcels on the narrowest phone: everything fits, and the waybill copies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from backend.clock import utcnow
from backend.db import Database
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from tests.browser.live import phone_context_options
from tests.browser.parcels import sms_link
from tests.factories import SYSTEM, THREE_LINES, make_order, ship_in_parcels

pytestmark = pytest.mark.browser

# Long numbers on purpose: JD's and SF's run to 15 characters and more.
PARCELS = [
    ("shunfeng", "SF1400000000001", {"TEA-LJ-250": 1}, "明前西湖龙井 250g"),
    ("jd", "JDVA00123456789012", {"CUP-GLASS": 2}, "双层玻璃茶杯"),
    ("debangkuaidi", "DPK36400000000003", {"TRAY-BAMBOO": 1}, "竹制茶盘（大号）"),
]
NARROW = {"width": 320, "height": 640}


def three_parcel_order(database: Database) -> Order:
    order = make_order(database, status=OrderStatus.PAID, lines=THREE_LINES)
    ship_in_parcels(database, order.id, [(c, n, lines) for c, n, lines, _ in PARCELS])
    for hours, (carrier, number, _, _) in zip((30, 6, 1), PARCELS, strict=True):
        record_tracking_update(
            database,
            carrier,
            number,
            [
                CarrierEvent(
                    utcnow() - timedelta(hours=hours),
                    TrackingStatus.IN_TRANSIT,
                    "【杭州市】快件已到达【杭州转运中心】，正在发往【上海市浦东新区集散中心】",
                    None,
                    "杭州市",
                )
            ],
            source="test",
            full_history=False,
            actor=SYSTEM,
        )
    return order


@pytest.fixture
def narrow_context(
    browser: Browser, playwright: Playwright, live_server: str
) -> Iterator[BrowserContext]:
    options = {**phone_context_options(playwright), "viewport": NARROW}
    context = browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(10_000)
    yield context
    context.close()


def open_order(context: BrowserContext, database: Database, order: Order) -> Page:
    page = context.new_page()
    response = page.goto(sms_link(database, order.id))
    assert response is not None and response.status == 200
    return page


def assert_fits(page: Page) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths


def assert_within_the_screen(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"], box


def test_three_parcels_fit_a_320_px_screen_with_each_parcels_items_and_waybill_shown(
    narrow_context: BrowserContext, database: Database
) -> None:
    order = three_parcel_order(database)
    page = open_order(narrow_context, database, order)

    parcels = page.locator("article.parcel")
    expect(parcels).to_have_count(3)
    assert_fits(page)
    for index, (_, number, _, item) in enumerate(PARCELS):
        parcel = parcels.nth(index)
        expect(parcel.locator(".parcel-title")).to_contain_text(f"包裹 {index + 1}/3")
        expect(parcel.locator(".parcel-items")).to_contain_text(item)
        expect(parcel.locator(".waybill-no")).to_have_text(number)
        expect(parcel.locator(".waybill-no")).to_be_visible()
        expect(parcel.get_by_role("button", name=f"复制运单号 {number}")).to_be_visible()
        parcel.scroll_into_view_if_needed()
        for part in (".parcel-items", ".waybill-no", ".waybill button.copy"):
            assert_within_the_screen(page, f"article.parcel >> nth={index} >> {part}")
    # Only the newest parcel's timeline is open; the others unfold on a tap.
    expect(page.locator("details.parcel-events[open]")).to_have_count(1)
    expect(parcels.nth(2).locator("details.parcel-events")).to_have_attribute("open", "")
    first = parcels.nth(0).locator("details.parcel-events")
    expect(first.locator("ol.timeline")).to_be_hidden()
    first.locator("summary").click()
    expect(first.locator("ol.timeline")).to_be_visible()
    assert_fits(page)


def test_the_copy_button_puts_the_waybill_number_on_the_clipboard(
    narrow_context: BrowserContext, database: Database, live_server: str
) -> None:
    order = three_parcel_order(database)
    narrow_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = open_order(narrow_context, database, order)
    _, number, _, _ = PARCELS[1]

    button = page.get_by_role("button", name=f"复制运单号 {number}")
    button.click()

    expect(button).to_have_text("已复制")
    assert page.evaluate("() => navigator.clipboard.readText()") == number


def test_where_the_browser_refuses_to_copy_the_number_is_selected_for_a_long_press(
    narrow_context: BrowserContext, database: Database
) -> None:
    order = three_parcel_order(database)
    # As in an older WeChat browser: no async clipboard, and execCommand("copy") refused.
    narrow_context.add_init_script(
        "Object.defineProperty(navigator, 'clipboard', {value: undefined});"
        "document.execCommand = function () { return false; };"
    )
    page = open_order(narrow_context, database, order)
    _, number, _, _ = PARCELS[2]

    button = page.get_by_role("button", name=f"复制运单号 {number}")
    button.click()

    expect(button).to_have_text("已选中，请长按复制")
    assert page.evaluate("() => window.getSelection().toString()") == number


def test_without_javascript_the_number_is_there_to_select_and_no_dead_button_shows(
    browser: Browser, playwright: Playwright, live_server: str, database: Database
) -> None:
    order = three_parcel_order(database)
    options = {**phone_context_options(playwright), "viewport": NARROW}
    context = browser.new_context(base_url=live_server, java_script_enabled=False, **options)
    try:
        page = open_order(context, database, order)
        number = page.locator("article.parcel").nth(0).locator(".waybill-no")
        expect(number).to_have_text(PARCELS[0][1])
        assert number.evaluate("e => getComputedStyle(e).userSelect") == "all"
        expect(page.locator("button.copy").first).to_be_hidden()
        assert_fits(page)
    finally:
        context.close()
