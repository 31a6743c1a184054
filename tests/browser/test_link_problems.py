"""Broken, revoked and expired links: a friendly page that points to the lookup form."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from backend.clock import utcnow
from backend.db import Database
from backend.orders.access import revoke_links
from backend.orders.lifecycle import OrderStatus
from portal.sessions import CUSTOMER_COOKIE
from portal.settings import Settings
from tests.browser.parcels import (
    record_events,
    route_to_hangzhou,
    signed_link,
    signed_link_issued_days_ago,
    sms_link,
    with_changed_code,
    with_changed_signature,
)
from tests.factories import SYSTEM, make_order

pytestmark = pytest.mark.browser

INVALID = "链接无效，可能复制不完整。"
EXPIRED = "链接已过期。"
REVOKED = "此链接已失效，商家已发送新的链接。"
STILL_POSSIBLE = "您仍可以通过订单号和手机号后4位查询订单。"

BrokenLink = Callable[[Settings, Database, int], str]


def short_code_with_one_character_changed(settings: Settings, db: Database, order_id: int) -> str:
    return with_changed_code(sms_link(db, order_id))


def short_code_copied_incompletely(settings: Settings, db: Database, order_id: int) -> str:
    return sms_link(db, order_id)[:-3]


def signed_link_with_a_changed_signature(settings: Settings, db: Database, order_id: int) -> str:
    return with_changed_signature(signed_link(settings, db, order_id))


def signed_link_from_before_a_revocation(settings: Settings, db: Database, order_id: int) -> str:
    link = signed_link(settings, db, order_id)
    revoke_links(db, order_id, SYSTEM)
    return link


def short_link_from_before_a_revocation(settings: Settings, db: Database, order_id: int) -> str:
    link = sms_link(db, order_id)
    revoke_links(db, order_id, SYSTEM)
    return link


def short_link_past_its_lifetime(settings: Settings, db: Database, order_id: int) -> str:
    return sms_link(db, order_id, issued_at=utcnow() - timedelta(days=31))


def signed_link_past_its_lifetime(settings: Settings, db: Database, order_id: int) -> str:
    return signed_link_issued_days_ago(settings, db, order_id, settings.link_max_age_days + 1)


LINK_PROBLEMS: list[tuple[BrokenLink, int, str]] = [
    (short_code_with_one_character_changed, 404, INVALID),
    (short_code_copied_incompletely, 404, INVALID),
    (signed_link_with_a_changed_signature, 404, INVALID),
    (signed_link_from_before_a_revocation, 410, REVOKED),
    (short_link_from_before_a_revocation, 410, REVOKED),
    (short_link_past_its_lifetime, 410, EXPIRED),
    (signed_link_past_its_lifetime, 410, EXPIRED),
]


@pytest.mark.parametrize(
    ("broken_link", "status", "message"),
    [pytest.param(*problem, id=problem[0].__name__) for problem in LINK_PROBLEMS],
)
def test_a_link_that_does_not_work_explains_itself_and_offers_the_lookup_form(
    page: Page,
    context: BrowserContext,
    database: Database,
    settings: Settings,
    broken_link: BrokenLink,
    status: int,
    message: str,
) -> None:
    order = make_order(database, status=OrderStatus.SHIPPED)
    record_events(database, order.id, route_to_hangzhou())
    link = broken_link(settings, database, order.id)

    response = page.goto(link)

    assert response is not None and response.status == status
    assert response.url.endswith(link)
    expect(page.locator("main h1")).to_have_text(message)
    expect(page.locator("main")).to_contain_text(STILL_POSSIBLE)
    assert CUSTOMER_COOKIE not in [cookie["name"] for cookie in context.cookies()]
    html = page.content()
    for private in (order.public_no, "张", "138****8000", "杭州转运中心"):
        assert private not in html
    page.get_by_role("link", name="查询订单").click()
    expect(page).to_have_url(re.compile(r"/lookup$"))
    expect(page.locator("#lookup_form")).to_be_visible()
