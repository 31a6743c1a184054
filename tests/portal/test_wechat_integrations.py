"""WeChat as the settings wire it: the token the portal and its workers share is in the database."""

from __future__ import annotations

import dataclasses

from backend.notifications.models import WeChatAccessToken
from emulators.notifications import NotificationEmulator
from emulators.serving import serve_in_thread
from portal.integrations import build_integrations
from portal.worker_process import open_worker

APPID = "wx1234567890abcdef"
SECRET = "test-app-secret"
OPENID = "oABCDEFGHIJKLmnopqrstuvwxyz0"
TEMPLATE_ID = "tmpl-shipped-0001"
DATA = {"character_string1": "DD20240502001", "phrase3": "已发货"}


def test_the_worker_and_another_machine_share_the_stored_token(settings, database):
    emulator = NotificationEmulator(wechat_apps={APPID: SECRET})
    with serve_in_thread(emulator.app) as url:
        wired = dataclasses.replace(
            settings, wechat_appid=APPID, wechat_app_secret=SECRET, wechat_api_base_url=url
        )
        worker = open_worker(wired, "wechat-test")  # as `portal worker` opens itself
        elsewhere = build_integrations(wired, database)  # a web process on another machine
        try:
            for integrations in (worker.integrations, elsewhere):
                (app,) = integrations.notifications.wechat_apps
                app.sender.send(OPENID, TEMPLATE_ID, None, DATA, f"k-{id(integrations)}")
        finally:
            worker.close()
            elsewhere.close()
    assert emulator.token_requests == 1
    assert len(emulator.sent("wechat")) == 2
    with database.read() as session:
        row = session.get(WeChatAccessToken, APPID)
    assert row is not None and row.token is not None
