"""Over HTTP: the order's one timeline, paged, masked, in two queries, for its customer only."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import event

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.access import revoke_links
from backend.orders.lifecycle import OrderStatus
from backend.staff.models import Role
from tests.browser.parcels import record_events
from tests.factories import make_order, send_queued_sms
from tests.portal.helpers import csrf_token, open_short_link

ADMIN = Actor(ActorKind.STAFF, "管理员", role=Role.ADMIN)


def history_of(order) -> str:
    return f"/orders/{order.public_no}/history"


def titles(html: str) -> list[str]:
    return re.findall(r'<p class="event-status">([^<]+)</p>', html)


def more_link(html: str) -> str | None:
    match = re.search(r'<p id="history_more"[^>]*><a class="button" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_the_customer_sees_the_order_newest_first_in_chinese(client, database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    open_short_link(client, database, order.id)
    token = csrf_token(client, f"/orders/{order.public_no}")
    client.post(
        f"/orders/{order.public_no}/messages", data={"body": "几天能到？", "csrf_token": token}
    )
    page = client.get(history_of(order))
    assert page.status_code == 200
    shown = titles(page.text)
    assert shown[0] == "您联系了客服" and shown[-1] == "已下单"
    assert {"已付款", "仓库已打包", "已发货"} <= set(shown)
    assert "几天能到？" in page.text
    assert "查看订单全部动态" in client.get(f"/orders/{order.public_no}").text


def test_a_sent_sms_shows_a_masked_phone(client, database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    send_queued_sms(database)
    open_short_link(client, database, order.id)
    page = client.get(history_of(order)).text
    assert "已给您发送短信通知" in page and "138****8000" in page and "发货通知" in page
    assert "13800138000" not in page


def test_pages_follow_one_another_without_duplicates_and_htmx_gets_the_entries_alone(
    client, database
):
    order = make_order(database, status=OrderStatus.SHIPPED)
    same = utcnow().replace(microsecond=0) - timedelta(minutes=10)
    record_events(
        database,
        order.id,
        [
            CarrierEvent(same, TrackingStatus.IN_TRANSIT, f"到达第{n}站", location=f"站{n}")
            for n in range(25)
        ],
    )
    open_short_link(client, database, order.id)
    first = client.get(history_of(order)).text
    assert len(titles(first)) == 20
    older = more_link(first)
    assert older is not None
    rest = client.get(older, headers={"HX-Request": "true"})
    assert "<html" not in rest.text and more_link(rest.text) is None
    # 25 carrier events and the shipped order's four milestones, each once.
    texts = re.findall(r"到达第(\d+)站", first + rest.text)
    assert sorted(texts, key=int) == [str(n) for n in range(25)]
    assert len(titles(first)) + len(titles(rest.text)) == 25 + 4
    # Without JavaScript the same link is a whole page, with the way back to the newest.
    plain = client.get(older)
    assert "<html" in plain.text and "回到最新" in plain.text


def test_a_page_costs_two_queries(client, database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    open_short_link(client, database, order.id)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "PRAGMA")):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        page = client.get(history_of(order))
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert page.status_code == 200 and titles(page.text)
    assert len(statements) == 2, statements


def test_a_cursor_that_is_not_ours_shows_the_newest_page(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    open_short_link(client, database, order.id)
    too_large = "9" * 17 + "_9999_" + "9" * 18  # more than a PostgreSQL INTEGER holds
    for bad in ("x", "1_2", "99999999999999999999_1_1", "%00", "-5_1_1", too_large):
        page = client.get(history_of(order), params={"before": bad})
        assert page.status_code == 200 and titles(page.text)[-1] == "已下单"
    # Well formed but edited by hand: the largest is after everything, the smallest before.
    latest = client.get(history_of(order), params={"before": "9" * 17 + "_9999_2147483647"})
    assert latest.status_code == 200 and titles(latest.text)[-1] == "已下单"
    earliest = client.get(history_of(order), params={"before": "0_0_0"})
    assert earliest.status_code == 200 and titles(earliest.text) == []


def test_someone_elses_order_is_404_and_a_revoked_link_ends_the_visit(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    other = make_order(database, status=OrderStatus.PAID, phone="13900139000")
    assert client.get(history_of(order), follow_redirects=False).status_code == 303
    open_short_link(client, database, order.id)
    assert client.get(history_of(other)).status_code == 404
    revoke_links(database, order.id, ADMIN)
    ended = client.get(history_of(order), follow_redirects=False)
    assert ended.status_code == 303 and "session_ended" in ended.headers["location"]
    assert client.get(history_of(order), follow_redirects=False).status_code == 303


def test_every_source_of_the_timeline_has_words_for_the_customer():
    """A new reader in backend/order_history.READERS fails here until it has a title."""
    from backend.order_history import READERS
    from portal.history_words import _TITLES

    named = {key if isinstance(key, str) else key[0] for key in _TITLES}
    assert {reader.kind for reader in READERS} - {"carrier"} <= named


def test_the_timeline_speaks_english_when_asked(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    open_short_link(client, database, order.id)
    client.get("/language", params={"to": "en", "next": "/"})
    shown = titles(client.get(history_of(order)).text)
    assert shown == ["Payment received", "Order placed"]
