"""The tracking page inside a mini-program's <web-view>: the way back to the mini-program,
with WeChat's JS-SDK allowed on that page only. Tencent's host is out of reach here, so the
SDK is answered by a small script that behaves as wx.miniProgram does in a web-view."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Playwright, Route

from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from portal.settings import Settings
from tests.browser.live import phone_context_options
from tests.browser.parcels import signed_link
from tests.factories import make_order

pytestmark = pytest.mark.browser

WECHAT_TAIL = " MicroMessenger/8.0.50(0x18003231) NetType/WIFI Language/zh_CN"
WEBVIEW_TAIL = WECHAT_TAIL + " miniProgram/wx0a1b2c3d"
SDK_STUB = """
window.__wxCalls = [];
window.wx = {miniProgram: {
  getEnv: function (callback) { callback({miniprogram: true}); },
  navigateBack: function () { window.__wxCalls.push("navigateBack"); }
}};
"""


def _context(browser: Browser, playwright: Playwright, live_server: str, tail: str):
    options = phone_context_options(playwright)
    options["user_agent"] = options["user_agent"] + tail
    context = browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(10_000)
    sdk_requests: list[str] = []

    def sdk(route: Route) -> None:
        sdk_requests.append(route.request.url)
        route.fulfill(status=200, content_type="application/javascript", body=SDK_STUB)

    context.route("https://res.wx.qq.com/**", sdk)
    return context, sdk_requests


def test_in_a_web_view_the_page_offers_the_way_back_to_the_mini_program(
    browser: Browser,
    playwright: Playwright,
    live_server: str,
    settings: Settings,
    database: Database,
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED)
    context, sdk_requests = _context(browser, playwright, live_server, WEBVIEW_TAIL)
    try:
        page = context.new_page()
        response = page.goto(signed_link(settings, database, order.id))
        assert response is not None and response.status == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self' https://res.wx.qq.com;" in policy
        back = page.get_by_role("button", name="返回小程序")
        back.wait_for()
        assert back.bounding_box()["height"] >= 44
        back.click()
        assert page.evaluate("window.__wxCalls") == ["navigateBack"]
        assert sdk_requests == ["https://res.wx.qq.com/open/js/jweixin-1.6.0.js"]
    finally:
        context.close()


def test_in_wechat_s_browser_and_elsewhere_there_is_no_sdk_and_no_way_back(
    browser: Browser,
    playwright: Playwright,
    live_server: str,
    settings: Settings,
    database: Database,
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED)
    for tail in ("", WECHAT_TAIL):
        context, sdk_requests = _context(browser, playwright, live_server, tail)
        try:
            page = context.new_page()
            response = page.goto(signed_link(settings, database, order.id))
            assert response is not None and response.status == 200
            assert "res.wx.qq.com" not in response.headers["content-security-policy"]
            page.get_by_text("查看我的全部订单").wait_for()
            assert page.get_by_role("button", name="返回小程序").count() == 0
            assert sdk_requests == []
        finally:
            context.close()
