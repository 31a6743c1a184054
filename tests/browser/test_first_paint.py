"""A customer page paints from its HTML alone, and nothing moves when its scripts arrive."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright

from backend.db import Database
from tests.browser.live import phone_context_options
from tests.browser.parcels import sms_link
from tests.browser.test_parcels_on_a_phone import PARCELS, three_parcel_order

pytestmark = pytest.mark.browser

# What a layout shift would move: the numbers, their copy buttons, and everything below.
WATCHED = "article.parcel .waybill-no, article.parcel button.copy, article.parcel .parcel-state"


def boxes(page: Page) -> list[Any]:
    return page.locator(WATCHED).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.x, r.y, r.width, r.height]; })"
    )


def test_the_page_fetches_no_stylesheet_and_its_inline_css_is_allowed(
    browser: Browser, playwright: Playwright, live_server: str, database: Database
) -> None:
    order = three_parcel_order(database)
    context = browser.new_context(base_url=live_server, **phone_context_options(playwright))
    try:
        page = context.new_page()
        kinds: list[str] = []
        refused: list[str] = []
        page.on("request", lambda request: kinds.append(request.resource_type))
        page.on(
            "console",
            lambda message: (
                refused.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        page.goto(sms_link(database, order.id))
        page.wait_for_load_state("networkidle")
        assert "stylesheet" not in kinds and "script" in kinds
        assert refused == []
        bar = page.locator("header.bar").evaluate("e => getComputedStyle(e).backgroundColor")
        assert bar == "rgb(15, 118, 110)"  # --brand: the inline CSS applied
    finally:
        context.close()


def test_the_copy_buttons_hold_their_place_before_the_script_shows_them(
    browser: Browser, playwright: Playwright, live_server: str, database: Database
) -> None:
    order = three_parcel_order(database)
    seen = {}
    for scripts in (False, True):
        context = browser.new_context(base_url=live_server, **phone_context_options(playwright))
        try:
            if not scripts:  # the moment between the first paint and the deferred scripts
                context.route("**/*.js", lambda route: route.abort())
            page = context.new_page()
            page.goto(sms_link(database, order.id))
            page.wait_for_load_state("networkidle")
            seen[scripts] = boxes(page)
            visible = page.locator("article.parcel button.copy").first.is_visible()
            assert visible == scripts
        finally:
            context.close()
    assert len(seen[True]) == 3 * len(PARCELS) and seen[False] == seen[True]
