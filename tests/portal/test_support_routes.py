"""Over HTTP: 催发货 once a day, messages, 确认收货, refusals and someone else's order."""

from datetime import timedelta

from sqlalchemy import select, update

from backend.clock import utcnow
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.support.models import SupportRequest
from tests.factories import make_order
from tests.portal.helpers import csrf_token, open_short_link


def late_paid_order(database):
    order = make_order(database, status=OrderStatus.PAID)
    with database.write() as session:
        # The order was paid two days ago: its 24-hour shipping promise has passed.
        session.execute(
            update(Order).where(Order.id == order.id).values(paid_at=utcnow() - timedelta(days=2))
        )
    return order


def post(client, path, data=None):
    token = csrf_token(client)
    return client.post(path, data={**(data or {}), "csrf_token": token}, follow_redirects=False)


def requests_of(database, order_id):
    with database.read() as session:
        return list(
            session.scalars(select(SupportRequest).where(SupportRequest.order_id == order_id))
        )


def test_a_reminder_is_sent_once_and_a_second_the_same_day_is_refused(client, database):
    order = late_paid_order(database)
    open_short_link(client, database, order.id)
    assert "催发货" in client.get(f"/orders/{order.public_no}").text
    assert post(client, f"/orders/{order.public_no}/remind").status_code == 303
    again = post(client, f"/orders/{order.public_no}/remind")
    assert again.status_code == 429 and "今天已经催过发货了" in again.text
    assert len(requests_of(database, order.id)) == 1


def test_an_empty_message_is_refused_and_a_message_is_kept(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    open_short_link(client, database, order.id)
    assert post(client, f"/orders/{order.public_no}/messages", {"body": "  "}).status_code == 422
    assert requests_of(database, order.id) == []
    assert (
        post(client, f"/orders/{order.public_no}/messages", {"body": "发顺丰吗"}).status_code == 303
    )
    assert "发顺丰吗" in client.get(f"/orders/{order.public_no}").text


def test_receipt_is_refused_before_delivery_and_someone_elses_order_is_404(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    other = make_order(database, status=OrderStatus.DELIVERED, phone="13900139000")
    open_short_link(client, database, order.id)
    assert post(client, f"/orders/{order.public_no}/receipt").status_code == 409
    assert post(client, f"/orders/{other.public_no}/receipt").status_code == 404
    with database.read() as session:
        assert session.get(Order, other.id).status == OrderStatus.DELIVERED


def test_the_staff_answer_shows_on_the_customers_page_in_four_queries(client, database, settings):
    from sqlalchemy import event
    from starlette.testclient import TestClient

    from backend.staff.models import Role
    from portal.app import create_app
    from tests.portal.helpers import staff_login

    order = make_order(database, status=OrderStatus.PAID)
    open_short_link(client, database, order.id)
    post(client, f"/orders/{order.public_no}/messages", {"body": "能开发票吗"})
    [request] = requests_of(database, order.id)
    with TestClient(create_app(settings, database)) as staff:
        staff_login(staff, database, Role.SUPPORT)
        assert "能开发票吗" in staff.get(f"/admin/orders/{order.id}").text
        token = csrf_token(staff, "/admin/login")
        answer = staff.post(
            f"/admin/support/{request.id}/answer",
            data={"reply": "可以", "order_id": str(order.id)},
            headers={"X-CSRF-Token": token},
            follow_redirects=False,
        )
        assert answer.headers["location"] == f"/admin/orders/{order.id}"
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(database.engine, "before_cursor_execute", listener)
    try:
        page = client.get(f"/orders/{order.public_no}")
    finally:
        event.remove(database.engine, "before_cursor_execute", listener)
    assert "客服回复" in page.text and "可以" in page.text
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 4, selects  # the head, lines, shipments, and the requests
