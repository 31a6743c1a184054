"""Over HTTP: a customer's 催发货 and message show in the operations queue; support answers."""

from datetime import timedelta

from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.operations import SHIP_PROMISE
from backend.orders.lifecycle import OrderStatus
from backend.staff.models import Role
from backend.support.lifecycle import RequestStatus
from backend.support.models import SupportRequest
from backend.support.service import leave_message, send_reminder
from tests.factories import make_order
from tests.portal.helpers import csrf_token, staff_login


def test_support_sees_the_waiting_customer_and_answers_from_the_queue(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    customer = Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="sms-link")
    send_reminder(
        database, order.id, customer, promise=SHIP_PROMISE, now=utcnow() + timedelta(days=2)
    )
    request_id = leave_message(database, order.id, customer, "什么时候发货？")
    staff_login(client, database, Role.SUPPORT)
    page = client.get("/admin/operations")
    assert page.status_code == 200
    section = page.text.split('id="support-queue"')[1].split("</section>")[0]
    assert order.public_no in section
    assert "催发货：1 次" in section and "留言：1 条" in section
    token = csrf_token(client, "/admin/login")
    answer = client.post(
        f"/admin/support/{request_id}/answer",
        data={"reply": "今天下午发出"},
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    with database.read() as session:
        row = session.get(SupportRequest, request_id)
        assert row.status is RequestStatus.ANSWERED and row.reply == "今天下午发出"
        open_left = session.scalars(
            select(SupportRequest.id).where(SupportRequest.status == RequestStatus.OPEN)
        ).all()
    assert len(open_left) == 1  # the reminder still waits for its own answer
