"""A portal configured for one 公众号, with WeChat as the loopback emulator, and a customer
whose openid was linked the way it is in production (the silent OAuth round trip)."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import httpx
from starlette.testclient import TestClient

from backend.db import Database
from emulators.notifications import DEMO_WECHAT_APPS
from portal.settings import Settings
from tests.portal.helpers import open_short_link

APPID, SECRET = next(iter(DEMO_WECHAT_APPS.items()))
PUSH_TOKEN = "push-token-for-tests"
TEMPLATES = {"shipped": "TplShipped0001", "delivered": "TplDelivered02"}
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI "
    "Language/zh_CN"
)
WECHAT = {"user-agent": WECHAT_UA}
SAFARI = {"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"}
MINIPROGRAM = {"user-agent": WECHAT_UA + " miniProgram/wx0123456789abcdef"}


def official_account(settings: Settings, wechat_url: str, **changes: object) -> Settings:
    values: dict[str, object] = {
        "wechat_appid": APPID,
        "wechat_app_secret": SECRET,
        "wechat_api_base_url": wechat_url,
        "wechat_oauth_authorize_url": wechat_url,
        "wechat_oauth_api_url": wechat_url,
        "wechat_templates": ",".join(f"{event}={tid}" for event, tid in TEMPLATES.items()),
        "wechat_push_token": PUSH_TOKEN,
    }
    return dataclasses.replace(settings, **(values | changes))


def enter_linked(client: TestClient, database: Database, order_id: int) -> str:
    """Opens the SMS link inside WeChat and follows the OAuth round trip; returns the page."""
    response = open_short_link(client, database, order_id)
    assert response.status_code == 303
    page = response.headers["location"]
    to_wechat = client.get(page, headers=WECHAT, follow_redirects=False)
    assert to_wechat.status_code == 303, to_wechat.text
    answer = httpx.get(to_wechat.headers["location"], follow_redirects=False, timeout=5)
    back = urlsplit(answer.headers["location"])
    done = client.get(f"{back.path}?{back.query}", headers=WECHAT, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == page
    return page
