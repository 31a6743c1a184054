"""Customer sessions end when staff revoke the links of the order that opened them."""

from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import AddressChange, Order
from backend.staff.models import Role
from portal.app import create_app
from portal.cli import customer_links
from portal.sessions import CUSTOMER_COOKIE
from tests.factories import make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login

ENDED = "/lookup?notice=session_ended"
ENDED_TEXT = "商家已撤回您打开的链接，本次访问已结束"


def customer_pages(paid, delivered) -> list[str]:
    """Every kind of page a customer session opens, on both of the customer's orders."""
    return [
        "/orders",
        f"/orders/{paid.public_no}",
        f"/orders/{delivered.public_no}",
        f"/orders/{paid.public_no}/timeline",
        f"/orders/{paid.public_no}/address",
        f"/orders/{delivered.public_no}/return",
    ]


def replay(browser: TestClient, cookie: str, path: str, **options):
    """The request a browser still holding `cookie` would send (an answer may clear it)."""
    browser.cookies.delete(CUSTOMER_COOKIE)
    browser.cookies.set(CUSTOMER_COOKIE, cookie, domain="testserver.local")
    return browser.get(path, follow_redirects=False, **options)


def open_link(browser: TestClient, link: str) -> str:
    response = browser.get(link.removeprefix("http://testserver"), follow_redirects=False)
    assert response.status_code == 303, response.text
    return browser.cookies[CUSTOMER_COOKIE]


def look_up(browser: TestClient, order) -> str:
    token = csrf_token(browser)
    response = browser.post(
        "/lookup",
        data={"order_no": order.public_no, "phone_last4": "5678", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return browser.cookies[CUSTOMER_COOKIE]


def revoke_as_support(app, database, order) -> None:
    support = TestClient(app)
    staff_login(support, database, Role.SUPPORT, name="客服小李")
    token = csrf_token(support, f"/admin/orders/{order.id}")
    response = support.post(
        f"/admin/orders/{order.id}/links/revoke",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303


def sees(browser: TestClient, cookie: str, path: str) -> bool:
    response = replay(browser, cookie, path)
    return response.status_code == 200 and "hx-redirect" not in response.headers


def test_revoking_an_orders_links_ends_every_session_they_opened_on_every_page(
    client, settings, database
):
    paid = make_order(database, phone="13912345678")
    delivered = make_order(database, phone="13912345678", status=OrderStatus.DELIVERED)
    assert paid.customer_id == delivered.customer_id
    sms_link, wechat_link = customer_links(settings, database, paid.id)
    sms_browser, wechat_browser, lookup_browser = (
        client,
        TestClient(client.app),
        TestClient(client.app),
    )
    other_browser = TestClient(client.app)
    ended_cookies = {
        "sms": open_link(sms_browser, sms_link),
        "wechat": open_link(wechat_browser, wechat_link),
        "lookup": look_up(lookup_browser, paid),
    }
    _, other_wechat = customer_links(settings, database, delivered.id)
    other_cookie = open_link(other_browser, other_wechat)
    browsers = {"sms": sms_browser, "wechat": wechat_browser, "lookup": lookup_browser}
    for how, cookie in ended_cookies.items():
        for path in customer_pages(paid, delivered):
            assert sees(browsers[how], cookie, path), (how, path)

    revoke_as_support(client.app, database, paid)

    for how, cookie in ended_cookies.items():
        browser = browsers[how]
        for path in customer_pages(paid, delivered):
            response = replay(browser, cookie, path)
            assert (response.status_code, response.headers.get("location")) == (303, ENDED), (
                how,
                path,
            )
        polled = replay(
            browser, cookie, f"/orders/{paid.public_no}/timeline", headers={"HX-Request": "true"}
        )
        assert polled.headers.get("hx-redirect") == ENDED
        photo = replay(browser, cookie, f"/orders/{delivered.public_no}/return/photos/1")
        assert (photo.status_code, photo.headers.get("location")) == (303, ENDED)
    explained = sms_browser.get(ENDED)
    assert explained.status_code == 200 and ENDED_TEXT in explained.text
    for path in customer_pages(paid, delivered):
        assert sees(other_browser, other_cookie, path), path
    with database.read() as session:
        version = session.scalar(select(Order.link_version).where(Order.id == paid.id))
        revoked_by = session.scalars(
            select(AuditEvent.actor_id).where(
                AuditEvent.order_id == paid.id, AuditEvent.action == "link.revoked_all"
            )
        ).all()
    assert (version, revoked_by) == (paid.link_version + 1, ["客服小李"])


def test_a_link_issued_after_the_revocation_opens_a_working_session(client, settings, database):
    order = make_order(database, phone="13912345678")
    sms_link, _ = customer_links(settings, database, order.id)
    old_cookie = open_link(client, sms_link)
    revoke_as_support(client.app, database, order)
    assert client.get(sms_link.removeprefix("http://testserver")).status_code == 410
    assert replay(client, old_cookie, "/orders").headers.get("location") == ENDED
    client.cookies.clear()
    fresh_sms, fresh_wechat = customer_links(settings, database, order.id)
    for link in (fresh_sms, fresh_wechat):
        cookie = open_link(client, link)
        assert sees(client, cookie, f"/orders/{order.public_no}")
        assert sees(client, cookie, "/orders")


def test_an_ended_session_can_change_nothing(client, settings, database):
    order = make_order(database, phone="13912345678")
    sms_link, _ = customer_links(settings, database, order.id)
    cookie = open_link(client, sms_link)
    revoke_as_support(client.app, database, order)
    token = csrf_token(client)
    client.cookies.set(CUSTOMER_COOKIE, cookie, domain="testserver.local")
    response = client.post(
        f"/orders/{order.public_no}/address",
        data={
            "csrf_token": token,
            "recipient_name": "李四",
            "phone": "13900000000",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "street": "文一路1号",
        },
        follow_redirects=False,
    )
    assert (response.status_code, response.headers.get("location")) == (303, ENDED)
    with database.read() as session:
        changes = session.scalar(select(func.count()).select_from(AddressChange))
    assert changes == 0


def test_a_restart_keeps_live_customer_sessions_live_and_ended_ones_ended(settings, database):
    order = make_order(database, phone="13912345678")
    other = make_order(database, phone="13912345678")
    with TestClient(create_app(settings, database)) as first:
        ended = open_link(first, customer_links(settings, database, order.id)[0])
        live = open_link(TestClient(first.app), customer_links(settings, database, other.id)[1])
        revoke_as_support(first.app, database, order)
    with TestClient(create_app(settings, database)) as second:
        assert replay(second, ended, f"/orders/{order.public_no}").headers["location"] == ENDED
        assert sees(second, live, f"/orders/{order.public_no}")
        assert sees(second, live, "/orders")


def test_the_order_list_still_costs_one_query(client, database):
    from sqlalchemy import event

    order = make_order(database)
    open_short_link(client, database, order.id)
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "PRAGMA", "ROLLBACK", "COMMIT")):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        assert client.get("/orders").status_code == 200
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements
