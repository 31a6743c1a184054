"""Customer routes: links, the tracking page, its live partial, and who may see what."""

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from backend.clock import utcnow
from backend.logistics.models import Shipment
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.access import LinkSigner, revoke_links
from backend.orders.lifecycle import OrderStatus
from tests.factories import SYSTEM, make_order
from tests.portal.helpers import open_short_link


def shipped_with_events(database, **kwargs):
    order = make_order(database, status=OrderStatus.SHIPPED, **kwargs)
    with database.read() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.order_id == order.id)).one()
    events = [
        CarrierEvent(
            utcnow() - timedelta(hours=5),
            TrackingStatus.PICKED_UP,
            "【杭州市】快递员王师傅已揽收",
            "50",
            "杭州市",
        ),
        CarrierEvent(
            utcnow() - timedelta(hours=1),
            TrackingStatus.IN_TRANSIT,
            "【杭州市】快件已到达【杭州转运中心】",
            "30",
            "杭州市",
        ),
    ]
    record_tracking_update(
        database,
        "sandbox",
        shipment.tracking_no,
        events,
        source="sandbox",
        full_history=False,
        actor=SYSTEM,
    )
    return order, shipment


def test_a_short_link_signs_the_customer_in_and_redirects_to_the_order(client, database):
    order, _ = shipped_with_events(database)
    response = open_short_link(client, database, order.id)
    assert response.status_code == 303
    assert response.headers["location"] == f"/orders/{order.public_no}"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


def test_the_tracking_page_shows_the_timeline_in_chinese_with_masked_data(client, database):
    order, shipment = shipped_with_events(database, name="张三丰", phone="13812348000")
    open_short_link(client, database, order.id)
    page = client.get(f"/orders/{order.public_no}")
    assert page.status_code == 200
    html = page.text
    assert "运输中" in html
    assert "快件已到达【杭州转运中心】" in html
    assert shipment.tracking_no in html
    assert "张**" in html and "138****8000" in html
    assert "浙江省 杭州市 西湖区" in html
    assert "13812348000" not in html and "张三丰" not in html and "文三路" not in html
    newest, oldest = html.index("杭州转运中心"), html.index("王师傅已揽收")
    assert newest < oldest
    assert page.headers["vary"].startswith("HX-Request")


def test_english_is_available(client, database):
    order, _ = shipped_with_events(database)
    open_short_link(client, database, order.id)
    switched = client.get(f"/language?to=en&next=/orders/{order.public_no}")
    assert switched.status_code == 200
    assert "In transit" in switched.text and "运输中" not in switched.text


def test_the_language_switch_only_redirects_within_the_site(client):
    for target in ("https://evil.example", "//evil.example", "/\\evil.example"):
        response = client.get(f"/language?to=en&next={target}", follow_redirects=False)
        assert response.headers["location"] == "/"


def test_a_tracking_view_costs_at_most_three_queries(client, database):
    order, _ = shipped_with_events(database)
    open_short_link(client, database, order.id)
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "PRAGMA")):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        assert client.get(f"/orders/{order.public_no}").status_code == 200
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert 1 <= len(statements) <= 3, statements


def test_the_first_load_is_at_most_50_kb_compressed(client, database):
    order, _ = shipped_with_events(database)
    open_short_link(client, database, order.id)
    headers = {"Accept-Encoding": "gzip"}
    page = client.get(f"/orders/{order.public_no}", headers=headers)
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    # The customer CSS is inline (portal/critical_css.py); the scripts are files.
    assert "<style>" in page.text and not any(a.endswith(".css") for a in assets)
    assert any(a.endswith(".js") for a in assets)
    total = page.num_bytes_downloaded
    for asset in assets:
        response = client.get(asset, headers=headers)
        assert response.status_code == 200
        assert response.headers.get("content-encoding") == "gzip"
        total += response.num_bytes_downloaded
    assert total <= 50 * 1024, total


def test_the_timeline_partial_is_returned_alone_to_htmx(client, database):
    order, _ = shipped_with_events(database)
    open_short_link(client, database, order.id)
    partial = client.get(f"/orders/{order.public_no}/timeline", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<section id="timeline"')
    assert "<html" not in partial.text


def test_polling_answers_204_until_something_changes(client, database):
    order, shipment = shipped_with_events(database)
    open_short_link(client, database, order.id)
    html = client.get(f"/orders/{order.public_no}/timeline", headers={"HX-Request": "true"}).text
    url = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 204
    record_tracking_update(
        database,
        "sandbox",
        shipment.tracking_no,
        [CarrierEvent(utcnow(), TrackingStatus.OUT_FOR_DELIVERY, "快递员正在派送", "44", "杭州市")],
        source="sandbox",
        full_history=False,
        actor=SYSTEM,
    )
    fresh = client.get(url, headers={"HX-Request": "true"})
    assert fresh.status_code == 200 and "快递员正在派送" in fresh.text


def test_someone_elses_order_is_not_found(client, database):
    mine = make_order(database, phone="13800000001")
    theirs = make_order(database, phone="13900000002", name="李四")
    open_short_link(client, database, mine.id)
    for path in (f"/orders/{theirs.public_no}", f"/orders/{theirs.public_no}/timeline"):
        response = client.get(path)
        assert response.status_code == 404
        assert "李*" not in response.text and "0002" not in response.text
        assert "西湖龙井" not in response.text


def test_without_a_session_the_pages_send_the_customer_to_the_lookup_form(client, database):
    order = make_order(database)
    response = client.get(f"/orders/{order.public_no}", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/lookup")
    assert client.get("/orders", follow_redirects=False).headers["location"] == "/lookup"
    assert client.get(f"/orders/{order.public_no}/timeline").status_code == 404


def test_a_forged_session_cookie_is_ignored(client, database):
    order = make_order(database)
    client.cookies.set("portal_customer", "eyJpZCI6MX0.forged.signature")
    response = client.get(f"/orders/{order.public_no}", follow_redirects=False)
    assert response.headers["location"] == "/lookup"


@pytest.mark.parametrize(
    "path",
    [
        "/t/zzzzzzzz",
        "/t/short",
        "/t/" + "a" * 300,
        "/o/not-a-token",
        "/o/eyJvIjoxLCJ2IjoxfQ.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_tampered_links_get_the_friendly_page(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "链接无效" in response.text and 'href="/lookup"' in response.text


def test_revoked_and_expired_links_explain_themselves(client, database, settings, monkeypatch):
    order = make_order(database)
    signer = LinkSigner(list(settings.secret_keys), timedelta(days=30))
    token = signer.sign(order.id, order.link_version)
    revoke_links(database, order.id, SYSTEM)
    revoked = client.get(f"/o/{token}")
    assert revoked.status_code == 410 and "此链接已失效" in revoked.text
    signed_at = time.time() - 31 * 86400
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: signed_at)
    old = signer.sign(order.id, order.link_version + 1)
    monkeypatch.undo()
    expired = client.get(f"/o/{old}")
    assert expired.status_code == 410 and "链接已过期" in expired.text


def test_the_customer_order_list_shows_only_their_orders(client, database):
    mine = make_order(database, phone="13800000001")
    also_mine = make_order(database, phone="13800000001", status=OrderStatus.SHIPPED)
    theirs = make_order(database, phone="13900000002")
    open_short_link(client, database, mine.id)
    html = client.get("/orders").text
    assert mine.public_no in html and also_mine.public_no in html
    assert theirs.public_no not in html


@pytest.mark.parametrize("number", ["%00abc", "abc%27%20OR%201=1", "x" * 300, "%E4%B8%AD"])
def test_malformed_order_numbers_in_the_path_are_not_found(client, database, number):
    order = make_order(database)
    open_short_link(client, database, order.id)
    assert client.get(f"/orders/{number}").status_code == 404
    assert client.get(f"/orders/{number}/timeline").status_code == 404


def test_a_cached_page_carries_each_visitors_own_csrf_token(client, database, settings):
    from starlette.testclient import TestClient

    from portal.app import create_app

    order, _ = shipped_with_events(database)
    open_short_link(client, database, order.id)
    first = client.get(f"/orders/{order.public_no}").text
    with TestClient(create_app(settings, database)) as other:
        open_short_link(other, database, order.id)
        other.get("/lookup")
        second = other.get(f"/orders/{order.public_no}").text
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', first).group(1)
    assert token == client.cookies.get("portal_csrf")
    assert token not in second and "&csrf-token;" not in first + second


def test_a_customer_cookie_seen_before_still_expires_with_its_lifetime(
    client, database, settings, monkeypatch
):
    order = make_order(database)
    open_short_link(client, database, order.id)
    assert client.get(f"/orders/{order.public_no}").status_code == 200
    assert client.get(f"/orders/{order.public_no}").status_code == 200  # known cookie now
    later = time.time() + settings.customer_session_hours * 3600 + 60
    monkeypatch.setattr("time.time", lambda: later)
    expired = client.get(f"/orders/{order.public_no}", follow_redirects=False)
    assert expired.status_code == 303
    assert expired.headers["location"].endswith("/lookup")
