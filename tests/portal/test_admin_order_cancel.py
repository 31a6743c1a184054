"""取消订单 from the staff order page: the cancel service, a reason, the path shown first."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, PaymentMethod
from backend.refunds.models import OrderCancellation, Refund
from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login


def stored(database, order_id):
    with database.read() as session:
        rows = session.scalars(
            select(OrderCancellation).where(OrderCancellation.order_id == order_id)
        ).all()
        refunds = session.scalars(select(Refund).where(Refund.order_id == order_id)).all()
        audit = session.scalars(
            select(AuditEvent).where(
                AuditEvent.order_id == order_id,
                AuditEvent.action == "order.cancelled_by_request",
            )
        ).all()
        status = session.get(Order, order_id).status
        return rows, [r.amount_fen for r in refunds], [(a.actor_id, a.after) for a in audit], status


def post_cancel(client, order_id, data):
    token = csrf_token(client, f"/admin/orders/{order_id}")
    return client.post(
        f"/admin/orders/{order_id}/cancel",
        data={**data, "csrf_token": token},
        follow_redirects=False,
    )


def test_support_sees_what_the_cancel_will_do_then_cancels_and_refunds(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    staff_login(client, database, Role.SUPPORT, name="客服小王")
    page = client.get(f"/admin/orders/{order.id}").text
    assert "已付款、未打包：订单立即取消，库存释放，¥256.00 原路退回。" in page
    assert f'action="/admin/orders/{order.id}/cancel"' in page and "客户拍错了或拍多了" in page
    done = post_cancel(client, order.id, {"reason": "wrong_item", "note": "客户电话说拍重了"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/orders/{order.id}?notice=cancelled#cancel"
    rows, refunds, audit, status = stored(database, order.id)
    assert status == OrderStatus.CANCELLED and refunds == [25_600]
    assert [(r.reason, r.requested_by) for r in rows] == [("wrong_item", "staff:客服小王")]
    assert audit == [
        (
            "客服小王",
            {
                "path": "paid",
                "reason": "wrong_item",
                "refund_fen": 25_600,
                "note": "客户电话说拍重了",
            },
        )
    ]
    after = client.get(done.headers["location"]).text
    assert (
        "已取消。已付款项正在原路退回。" in after and "已取消；退款 ¥256.00：退款处理中。" in after
    )
    assert f'action="/admin/orders/{order.id}/cancel"' not in after


def test_the_customer_page_shows_the_staff_cancel_at_once(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    open_short_link(client, database, order.id)
    assert "不想要了？" in client.get(f"/orders/{order.public_no}").text  # cached now
    staff_login(client, database, Role.SUPERVISOR)
    assert post_cancel(client, order.id, {"reason": "changed_mind"}).status_code == 303
    page = client.get(f"/orders/{order.public_no}").text
    assert "退款 ¥256.00 正在原路退回。" in page and "不想要了？" not in page


def test_a_second_click_is_one_cancel_and_one_refund(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    staff_login(client, database, Role.SUPPORT)
    post_cancel(client, order.id, {"reason": "changed_mind"})
    again = post_cancel(client, order.id, {"reason": "changed_mind"})
    assert again.headers["location"].endswith("?notice=cancelled_already#cancel")
    rows, refunds, audit, _status = stored(database, order.id)
    assert (len(rows), refunds, len(audit)) == (1, [25_600], 1)


def test_an_unpaid_order_is_cancelled_with_nothing_to_refund(client, database):
    order = make_order(database, status=OrderStatus.PENDING_PAYMENT)
    staff_login(client, database, Role.SUPPORT)
    assert (
        "未付款：订单立即取消，库存释放，无需退款。" in client.get(f"/admin/orders/{order.id}").text
    )
    post_cancel(client, order.id, {"reason": "address"})
    _rows, refunds, _audit, status = stored(database, order.id)
    assert (status, refunds) == (OrderStatus.CANCELLED, [])


@pytest.mark.parametrize(
    ("data", "notice"),
    [
        ({}, "cancel_reason_needed"),
        ({"reason": "<script>"}, "cancel_reason_needed"),
        ({"reason": "x" * 5000}, "cancel_reason_needed"),
        ({"reason": "other"}, "cancel_note_needed"),
        ({"reason": "other", "note": "   "}, "cancel_note_needed"),
    ],
)
def test_a_missing_or_made_up_reason_is_a_notice_and_nothing_changes(
    client, database, data, notice
):
    order = make_order(database, status=OrderStatus.PAID)
    staff_login(client, database, Role.SUPPORT)
    answer = post_cancel(client, order.id, data)
    assert answer.status_code == 303 and f"?notice={notice}" in answer.headers["location"]
    assert "请" in client.get(answer.headers["location"]).text
    assert stored(database, order.id) == ([], [], [], OrderStatus.PAID)


def test_a_parcel_with_a_carrier_is_refused_and_points_to_the_intercept(client, database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    staff_login(client, database, Role.SUPPORT)
    page = client.get(f"/admin/orders/{order.id}").text
    assert "不能取消，只能在快递公司拦截" in page
    assert f'action="/admin/orders/{order.id}/cancel"' not in page
    answer = post_cancel(client, order.id, {"reason": "changed_mind"})
    assert answer.headers["location"].endswith("?notice=cancel_in_transit#cancel")
    assert "未取消：包裹已在快递手中" in client.get(answer.headers["location"]).text
    assert stored(database, order.id) == ([], [], [], OrderStatus.SHIPPED)


def test_a_marketplace_order_is_refused(client, database):
    order = make_order(database, payment_method=PaymentMethod.PLATFORM)
    staff_login(client, database, Role.SUPPORT)
    answer = post_cancel(client, order.id, {"reason": "changed_mind"})
    assert answer.headers["location"].endswith("?notice=cancel_platform#cancel")
    assert stored(database, order.id) == ([], [], [], OrderStatus.PAID)


@pytest.mark.parametrize("role", [Role.WAREHOUSE, Role.FINANCE])
def test_roles_without_cancel_orders_get_403_and_no_form(client, database, role):
    order = make_order(database, status=OrderStatus.PAID)
    staff_login(client, database, role)
    assert (
        f'action="/admin/orders/{order.id}/cancel"'
        not in client.get(f"/admin/orders/{order.id}").text
    )
    assert post_cancel(client, order.id, {"reason": "changed_mind"}).status_code == 403
    assert stored(database, order.id) == ([], [], [], OrderStatus.PAID)


def test_an_unknown_order_is_404(client, database):
    make_order(database)
    staff_login(client, database, Role.SUPPORT)
    token = csrf_token(client, "/admin/orders")
    answer = client.post(
        "/admin/orders/999999/cancel", data={"reason": "other", "note": "x", "csrf_token": token}
    )
    assert answer.status_code == 404
