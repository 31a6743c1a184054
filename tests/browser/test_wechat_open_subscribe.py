"""In WeChat's browser the tracking page calls wx.config with what the server signed and
shows the 公众号's subscribe button; elsewhere none of it loads.

Tencent's host is out of reach, so the JS-SDK is answered by a stub that does what the
real one does with an open tag: it records wx.config, calls wx.ready, draws the tag's
wxtag-template into the tag's own shadow tree (so the page's CSP meets the template's
style) and fires `success` when the button is tapped. The openid is linked through the
real OAuth round trip against the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, Route

from backend.db import Database
from backend.notifications.models import WeChatJsapiTicket
from backend.notifications.wechat_jsapi import build_jsapi_signature
from backend.orders.lifecycle import OrderStatus
from emulators.notifications import NotificationEmulator
from emulators.serving import serve_in_thread
from portal.settings import Settings
from tests.browser.live import phone_context_options
from tests.browser.parcels import signed_link
from tests.browser.wechat_sdk import SDK_STUB
from tests.factories import make_order
from tests.portal.wechat_official import APPID, TEMPLATES, official_account

pytestmark = pytest.mark.browser

WECHAT_TAIL = " MicroMessenger/8.0.50(0x18003231) NetType/WIFI Language/zh_CN"


@pytest.fixture
def wechat() -> Iterator[tuple[NotificationEmulator, str]]:
    emulator = NotificationEmulator()
    with serve_in_thread(emulator.app) as url:
        yield emulator, url


@pytest.fixture
def settings(settings: Settings, wechat) -> Settings:
    return official_account(settings, wechat[1])


# An old WeChat: wx.config works, open tags do not, and WeChat says so.
NO_OPEN_TAGS_STUB = """
window.wx = {
  config: function () {},
  error: function () {},
  ready: function (callback) {
    setTimeout(function () {
      document.dispatchEvent(new CustomEvent("WeixinOpenTagsError",
        {detail: {errMsg: "not supported"}}));
      callback();
    }, 0);
  }
};
"""


def _context(
    browser: Browser, playwright: Playwright, live_server: str, tail: str, stub: str = SDK_STUB
):
    options = phone_context_options(playwright)
    options["user_agent"] = options["user_agent"] + tail
    context = browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(10_000)
    sdk_requests: list[str] = []

    def sdk(route: Route) -> None:
        sdk_requests.append(route.request.url)
        route.fulfill(status=200, content_type="application/javascript", body=stub)

    context.route("https://res.wx.qq.com/**", sdk)
    return context, sdk_requests


def _ticket(database: Database) -> str:
    with database.read() as session:
        row = session.get(WeChatJsapiTicket, APPID)
        assert row is not None and row.ticket
        return row.ticket


def test_in_wechat_the_page_configures_the_sdk_and_shows_the_subscribe_button(
    browser: Browser,
    playwright: Playwright,
    live_server: str,
    settings: Settings,
    database: Database,
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED)
    context, sdk_requests = _context(browser, playwright, live_server, WECHAT_TAIL)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        response = page.goto(signed_link(settings, database, order.id))
        assert response is not None and response.status == 200
        button = page.get_by_role("button", name="微信通知我")
        button.wait_for()
        assert page.locator("[data-wechat-subscribe]").is_visible()
        assert sdk_requests == ["https://res.wx.qq.com/open/js/jweixin-1.6.0.js"]
        config = page.evaluate("window.__wxConfig")
        assert config["appId"] == APPID
        assert config["openTagList"] == ["wx-open-subscribe"] and config["jsApiList"] == []
        url = page.url.partition("#")[0]
        assert config["signature"] == build_jsapi_signature(
            _ticket(database), config["nonceStr"], config["timestamp"], url
        )
        tag = page.locator("wx-open-subscribe")
        assert tag.get_attribute("template") == ",".join(TEMPLATES.values())
        # The template's own style reached the button: the CSP let exactly it in.
        assert button.bounding_box()["height"] >= 44
        assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(7, 193, 96)"
        button.click()
        page.get_by_text("谢谢，微信会通知您这笔订单的进展。").wait_for()
        assert violations == []
    finally:
        context.close()


def test_outside_wechat_there_is_no_sdk_and_no_subscribe_button(
    browser: Browser,
    playwright: Playwright,
    live_server: str,
    settings: Settings,
    database: Database,
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED)
    context, sdk_requests = _context(browser, playwright, live_server, "")
    try:
        page = context.new_page()
        response = page.goto(signed_link(settings, database, order.id))
        assert response is not None and response.status == 200
        assert "res.wx.qq.com" not in response.headers["content-security-policy"]
        page.get_by_text("查看我的全部订单").wait_for()
        assert page.locator("wx-open-subscribe").count() == 0
        assert page.get_by_role("button", name="微信通知我").count() == 0
        assert sdk_requests == []
    finally:
        context.close()


def test_where_wechat_cannot_draw_open_tags_the_section_stays_hidden(
    browser: Browser,
    playwright: Playwright,
    live_server: str,
    settings: Settings,
    database: Database,
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED)
    context, sdk_requests = _context(
        browser, playwright, live_server, WECHAT_TAIL, NO_OPEN_TAGS_STUB
    )
    try:
        page = context.new_page()
        page.goto(signed_link(settings, database, order.id))
        page.wait_for_load_state("load")
        page.wait_for_timeout(200)  # past the stub's ready callback
        assert sdk_requests == ["https://res.wx.qq.com/open/js/jweixin-1.6.0.js"]
        assert page.locator("[data-wechat-subscribe]").count() == 1
        assert not page.locator("[data-wechat-subscribe]").is_visible()
    finally:
        context.close()
