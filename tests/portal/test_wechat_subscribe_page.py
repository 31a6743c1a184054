"""The tracking page in WeChat's browser offers the 公众号 subscribe open tag, with wx.config
signed on the server and a CSP widened for it on that response only; elsewhere none of it."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from backend.notifications.models import WeChatJsapiTicket
from backend.notifications.wechat_jsapi import build_jsapi_signature
from emulators.notifications import Fault, NotificationEmulator
from emulators.serving import serve_in_thread
from portal.app import create_app
from portal.critical_css import hash_source
from portal.security import CONTENT_SECURITY_POLICY
from portal.wechat_context import policy_with_jssdk
from portal.wechat_subscribe import OPEN_TAG_STYLE, policy_with_open_tag
from tests.factories import make_order
from tests.portal.wechat_official import (
    APPID,
    MINIPROGRAM,
    SAFARI,
    TEMPLATES,
    WECHAT,
    enter_linked,
    official_account,
)


@pytest.fixture
def wechat() -> Iterator[tuple[NotificationEmulator, str]]:
    emulator = NotificationEmulator()
    with serve_in_thread(emulator.app) as url:
        yield emulator, url


def portal_for(settings, database, wechat, **changes) -> TestClient:
    return TestClient(create_app(official_account(settings, wechat[1], **changes), database))


@pytest.fixture
def portal(settings, database, wechat) -> Iterator[TestClient]:
    with portal_for(settings, database, wechat) as client:
        yield client


def stored_ticket(database) -> str:
    with database.read() as session:
        row = session.get(WeChatJsapiTicket, APPID)
        assert row is not None and row.ticket
        return row.ticket


def offer_of(html: str) -> dict[str, str] | None:
    """The subscribe section's attributes, or None when the page has none."""
    match = re.search(r"<section[^>]*\bdata-wechat-subscribe\b[^>]*>", html)
    return None if match is None else dict(re.findall(r'([\w-]+)(?:="([^"]*)")?', match.group()))


def open_tag_templates(html: str) -> str:
    match = re.search(r'<wx-open-subscribe [^>]*template="([^"]*)"', html)
    assert match is not None
    return match.group(1)


def wxtag_template(html: str) -> str:
    match = re.search(r'<script type="text/wxtag-template">(.*?)</script>', html, re.S)
    assert match is not None
    return match.group(1)


def test_in_wechat_the_page_offers_the_open_tag_with_a_server_signed_config(
    portal, database, settings
):
    order = make_order(database)
    page = enter_linked(portal, database, order.id)
    response = portal.get(page, headers=WECHAT)
    assert response.status_code == 200
    box = offer_of(response.text)
    assert box is not None and "hidden" in box  # until wx.config succeeds
    assert open_tag_templates(response.text) == ",".join(TEMPLATES.values())
    assert "<button" in wxtag_template(response.text)
    assert box["data-appid"] == APPID
    url = settings.base_url.rstrip("/") + page  # what the customer's browser shows
    expected = build_jsapi_signature(
        stored_ticket(database), box["data-nonce"], int(box["data-timestamp"]), url
    )
    assert box["data-signature"] == expected
    sources = re.findall(r'<script src="([^"]+)"', response.text)
    assert "https://res.wx.qq.com/open/js/jweixin-1.6.0.js" in sources
    assert any(src.endswith("/static/wechat_subscribe.js") for src in sources)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.text)
    assert inline == [' type="text/wxtag-template"']  # nothing that runs inline
    policy = response.headers["content-security-policy"]
    assert policy == policy_with_open_tag()
    assert "script-src 'self' https://res.wx.qq.com;" in policy
    # the open tag's style, and the customer pages' inline stylesheet
    assert re.search(r"style-src 'self'( 'sha256-[A-Za-z0-9+/]+=*'){2};", policy)


def test_the_style_inside_the_template_is_the_one_the_policy_allows(portal, database):
    order = make_order(database)
    page = enter_linked(portal, database, order.id)
    template = wxtag_template(portal.get(page, headers=WECHAT).text)
    style = re.search(r"<style>(.*?)</style>", template)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy_with_open_tag()


@pytest.mark.parametrize("headers", [SAFARI, MINIPROGRAM, {}], ids=["safari", "web-view", "none"])
def test_outside_wechat_s_browser_there_is_no_open_tag(portal, database, wechat, headers):
    order = make_order(database)
    page = enter_linked(portal, database, order.id)
    portal.get(page, headers=WECHAT)  # the WeChat page is in the cache now
    response = portal.get(page, headers=headers)
    assert response.status_code == 200
    assert offer_of(response.text) is None and "wx-open-subscribe" not in response.text
    policy = response.headers["content-security-policy"]
    assert hash_source(OPEN_TAG_STYLE) not in policy
    assert policy in (CONTENT_SECURITY_POLICY, policy_with_jssdk())
    # and the page cached for that browser is not what WeChat gets either
    assert offer_of(portal.get(page, headers=WECHAT).text) is not None


def test_without_templates_there_is_nothing_to_subscribe_to(settings, database, wechat):
    with portal_for(settings, database, wechat, wechat_templates="") as client:
        order = make_order(database)
        page = enter_linked(client, database, order.id)
        response = client.get(page, headers=WECHAT)
    assert response.status_code == 200
    assert offer_of(response.text) is None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert wechat[0].ticket_requests == 0


def test_when_wechat_gives_no_ticket_the_page_is_served_without_the_button(
    portal, database, wechat
):
    emulator, _ = wechat
    order = make_order(database)
    page = enter_linked(portal, database, order.id)
    emulator.set_fault("wechat", Fault(status=503, times=2))
    response = portal.get(page, headers=WECHAT)
    assert response.status_code == 200
    assert offer_of(response.text) is None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    emulator.clear_faults()
    assert offer_of(portal.get(page, headers=WECHAT).text) is not None


def test_the_htmx_timeline_carries_no_open_tag(portal, database):
    order = make_order(database)
    page = enter_linked(portal, database, order.id)
    response = portal.get(page, headers=WECHAT | {"HX-Request": "true"})
    assert response.status_code == 200
    assert "wx-open-subscribe" not in response.text
