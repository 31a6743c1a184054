"""Over HTTP: 取消订单 from the order page, per path, with its refusals; reloaded each step."""

from __future__ import annotations

from sqlalchemy import select

from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, PaymentMethod, SalesChannel
from backend.refunds.models import OrderCancellation, Refund
from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login


def post(client, path, data=None):
    token = csrf_token(client)
    return client.post(path, data={**(data or {}), "csrf_token": token}, follow_redirects=False)


def stored(database, order_id):
    with database.read() as session:
        rows = session.scalars(
            select(OrderCancellation).where(OrderCancellation.order_id == order_id)
        ).all()
        refunds = session.scalars(select(Refund).where(Refund.order_id == order_id)).all()
        return rows, refunds, session.get(Order, order_id).status


def test_a_paid_order_is_cancelled_from_its_page_and_the_refund_shows(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    open_short_link(client, database, order.id)
    page = client.get(f"/orders/{order.public_no}").text
    assert "不想要了？" in page and f"/orders/{order.public_no}/cancel" in page
    form = client.get(f"/orders/{order.public_no}/cancel").text
    assert "已付的 ¥256.00 将原路退回" in form and "发货太慢" in form
    done = post(client, f"/orders/{order.public_no}/cancel", {"reason": "too_slow"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/orders/{order.public_no}?notice=order_cancelled"
    _rows, refunds, status = stored(database, order.id)
    assert status == OrderStatus.CANCELLED and [r.amount_fen for r in refunds] == [25_600]
    after = client.get(done.headers["location"]).text
    assert "订单已取消。" in after and "退款 ¥256.00 正在原路退回。" in after
    assert "不想要了？" not in after
    # A second tap (a double submit, or the back button) changes nothing.
    again = post(client, f"/orders/{order.public_no}/cancel", {"reason": "too_slow"})
    assert again.status_code == 303
    assert len(stored(database, order.id)[1]) == 1
    assert "这笔订单已经取消了。" in client.get(f"/orders/{order.public_no}/cancel").text


def test_an_unpaid_order_says_nothing_needs_refunding(client, database):
    order = make_order(database, status=OrderStatus.PENDING_PAYMENT)
    open_short_link(client, database, order.id)
    assert "付款前可以随时取消" in client.get(f"/orders/{order.public_no}").text
    assert post(client, f"/orders/{order.public_no}/cancel", {"reason": "other"}).status_code == 303
    assert stored(database, order.id)[1:] == ([], OrderStatus.CANCELLED)
    assert "您没有付款，无需退款。" in client.get(f"/orders/{order.public_no}").text


def test_after_pickup_a_cancel_becomes_the_in_transit_refund(client, database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    open_short_link(client, database, order.id)
    page = client.get(f"/orders/{order.public_no}").text
    assert "包裹已交给快递，不能直接取消了" in page
    assert f"/orders/{order.public_no}/refund-in-transit" in page
    moved = post(client, f"/orders/{order.public_no}/cancel", {"reason": "other"})
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/orders/{order.public_no}/refund-in-transit"
    assert stored(database, order.id) == ([], [], OrderStatus.SHIPPED)


def test_a_marketplace_order_is_sent_to_the_platform_and_nothing_happens_here(client, database):
    order = make_order(
        database,
        status=OrderStatus.PAID,
        channel=SalesChannel.JD,
        payment_method=PaymentMethod.PLATFORM,
    )
    open_short_link(client, database, order.id)
    page = client.get(f"/orders/{order.public_no}/cancel").text
    assert "这笔订单是在京东下的" in page and "<form" not in page.split("<main")[-1]
    refused = post(client, f"/orders/{order.public_no}/cancel", {"reason": "other"})
    assert refused.status_code == 409
    assert stored(database, order.id) == ([], [], OrderStatus.PAID)


def test_a_tampered_reason_or_someone_elses_order_changes_nothing(client, database):
    mine, theirs = make_order(database), make_order(database, phone="13911112222", name="李四")
    open_short_link(client, database, mine.id)
    bad = post(client, f"/orders/{mine.public_no}/cancel", {"reason": "<script>"})
    assert bad.status_code == 422 and "请选择一个取消原因" in bad.text
    other = post(client, f"/orders/{theirs.public_no}/cancel", {"reason": "other"})
    assert other.status_code == 404
    assert client.get(f"/orders/{theirs.public_no}/cancel").status_code == 404
    assert stored(database, mine.id)[:2] == ([], [])
    assert stored(database, theirs.id)[:2] == ([], [])


def test_a_packed_order_waits_for_the_warehouse_on_the_staff_queue(client, database):
    order = make_order(database, status=OrderStatus.PACKED)
    open_short_link(client, database, order.id)
    form = client.get(f"/orders/{order.public_no}/cancel").text
    assert "我们会先在快递公司作废面单" in form
    cancelled = post(client, f"/orders/{order.public_no}/cancel", {"reason": "address"})
    assert cancelled.status_code == 303
    (row,), _refunds, status = stored(database, order.id)
    assert status == OrderStatus.CANCELLED and row.unpacked_at is None
    staff_login(client, database, Role.WAREHOUSE)
    queue = client.get("/admin/cancellations").text
    assert order.public_no in queue and "已拆包上架" in queue
    token = csrf_token(client, "/admin/cancellations")
    done = client.post(
        f"/admin/cancellations/{row.id}/unpacked",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert stored(database, order.id)[0][0].unpacked_at is not None
    assert order.public_no not in client.get("/admin/cancellations").text
