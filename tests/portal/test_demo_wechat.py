"""make run's WeChat: a demo customer opening their link with WeChat's user agent goes
through the OAuth round trip at the emulator, the emulator answers with the subscribe
popup's signed push, and the consents are stored, as portal/demo_services.py wires it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
from sqlalchemy import select

from backend.notifications.models import WeChatConsent
from backend.orders.access import issue_short_link
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import CustomerWechatId
from emulators.notifications import NotificationEmulator
from emulators.serving import serve_in_thread
from portal.app import create_app
from portal.demo_services import DEMO_WECHAT_EVENTS, _with_wechat
from tests.browser.live import bind_free_port, serving, url_of
from tests.factories import make_order
from tests.portal.helpers import ADMIN
from tests.portal.wechat_official import WECHAT_UA
from tests.waiting import wait_until


def test_a_demo_customer_in_wechat_is_linked_and_consents_through_the_real_endpoints(
    settings, database
):
    order = make_order(database, status=OrderStatus.SHIPPED)
    emulator = NotificationEmulator()
    sock = bind_free_port()
    try:
        with serve_in_thread(emulator.app) as wechat_url:
            wired = _with_wechat(replace(settings, base_url=url_of(sock)), emulator, wechat_url)
            with serving(create_app(wired, database), sock):
                with httpx.Client(
                    base_url=wired.base_url, headers={"user-agent": WECHAT_UA}, timeout=10
                ) as browser:
                    code = issue_short_link(database, order.id, ADMIN, timedelta(days=1))
                    page = browser.get(f"/t/{code}", follow_redirects=True)
                    assert page.status_code == 200
                    assert page.url.path == f"/orders/{order.public_no}"

                def consents():
                    with database.read() as session:
                        return session.scalars(
                            select(WeChatConsent.template_id).where(
                                WeChatConsent.customer_id == order.customer_id
                            )
                        ).all()

                stored = wait_until(consents, timeout=15, what="the popup's push to arrive")
    finally:
        sock.close()
    with database.read() as session:
        linked = session.scalars(
            select(CustomerWechatId.appid).where(CustomerWechatId.customer_id == order.customer_id)
        ).all()
    assert linked == [wired.wechat_appid]
    assert len(stored) == len(DEMO_WECHAT_EVENTS)
