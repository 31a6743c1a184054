"""Send a customer's message again from the staff order page: once per click, a new key."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.jobs.models import Job
from backend.notifications import outbox
from backend.notifications.models import Notification, NotificationEvent, NotificationStatus
from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import csrf_token, staff_login


def message(database, order_id, status=NotificationStatus.SENT):
    with database.write() as session:
        outbox.notify(session, order_id, NotificationEvent.SHIPPED, details={"carrier": "顺丰"})
        row = session.scalars(select(Notification).where(Notification.order_id == order_id)).one()
        row.status = status
        return row.id


def resend(client, order_id, notification_id, number):
    page = f"/admin/orders/{order_id}"
    return client.post(
        f"{page}/messages/{notification_id}/resend",
        data={"number": number, "csrf_token": csrf_token(client, page)},
        follow_redirects=False,
    )


def offered_number(client, order_id, notification_id):
    html = client.get(f"/admin/orders/{order_id}").text
    found = re.search(
        rf'/messages/{notification_id}/resend".*?name="number" value="(\d+)"', html, re.S
    )
    return found.group(1) if found else None


def outbox_rows(database, order_id):
    with database.read() as session:
        rows = session.execute(
            select(Notification.idempotency_key, Notification.recipient, Notification.urgent)
            .where(Notification.order_id == order_id)
            .order_by(Notification.id)
        ).all()
        sends = session.scalars(select(Job.key).where(Job.kind == outbox.SEND).order_by(Job.id))
        audit = session.scalars(
            select(AuditEvent.actor_id).where(AuditEvent.action == "notification.resent")
        ).all()
        return [tuple(r) for r in rows], list(sends), audit


@pytest.mark.parametrize("status", [NotificationStatus.SENT, NotificationStatus.FAILED])
def test_a_sent_or_failed_message_is_sent_again_once_per_click(client, database, status):
    order = make_order(database, phone="13912345678")
    original = message(database, order.id, status)
    staff_login(client, database, Role.SUPPORT, name="客服小王")
    number = offered_number(client, order.id, original)
    assert number == "1"
    first = resend(client, order.id, original, number)
    assert first.headers["location"].endswith("?notice=message_resent#messages")
    assert "已重新发送" in client.get(first.headers["location"]).text
    double = resend(client, order.id, original, number)  # the same page, clicked twice
    assert double.headers["location"].endswith("?notice=message_resent_already#messages")
    rows, sends, audit = outbox_rows(database, order.id)
    assert [(key.startswith("re:"), to, urgent) for key, to, urgent in rows] == [
        (False, "13912345678", False),
        (True, "13912345678", True),
    ]
    assert rows[1][0] == f"re:{original}:1" and sends[-1] == f"send:re:{original}:1"
    assert audit == ["客服小王"]
    # The next deliberate click, from the page after it, is a second copy.
    assert offered_number(client, order.id, original) == "2"
    resend(client, order.id, original, "2")
    assert len(outbox_rows(database, order.id)[0]) == 3


def test_a_waiting_message_a_copy_and_made_up_numbers_are_refused(client, database):
    order = make_order(database)
    waiting = message(database, order.id, NotificationStatus.PENDING)
    staff_login(client, database, Role.SUPERVISOR)
    assert offered_number(client, order.id, waiting) is None
    for notification_id, number in ((waiting, "1"), (999999, "1")):
        answer = resend(client, order.id, notification_id, number)
        assert answer.headers["location"].endswith("?notice=message_not_resendable#messages")
    with database.write() as session:
        session.get(Notification, waiting).status = NotificationStatus.SENT
    for number in ("5", "0", "-1", "abc", ""):
        answer = resend(client, order.id, waiting, number)
        assert "notice=message_not_resendable" in answer.headers["location"], number
    assert len(outbox_rows(database, order.id)[0]) == 1
    other = make_order(database)
    answer = resend(client, other.id, waiting, "1")  # the message of another order
    assert "notice=message_not_resendable" in answer.headers["location"]
    assert len(outbox_rows(database, order.id)[0]) == 1


def test_an_unusable_phone_is_refused_politely(client, database):
    order = make_order(database, phone="0571-8888666")
    original = message(database, order.id)
    staff_login(client, database, Role.SUPPORT)
    answer = resend(client, order.id, original, "1")
    assert answer.headers["location"].endswith("?notice=contact_unusable#messages")
    assert "未发送：订单上的手机号不是可用的手机号码" in client.get(answer.headers["location"]).text
    assert len(outbox_rows(database, order.id)[0]) == 1


@pytest.mark.parametrize("role", [Role.WAREHOUSE, Role.FINANCE])
def test_roles_without_answer_customers_get_403(client, database, role):
    order = make_order(database)
    original = message(database, order.id)
    staff_login(client, database, role)
    assert offered_number(client, order.id, original) is None
    assert resend(client, order.id, original, "1").status_code == 403
    assert len(outbox_rows(database, order.id)[0]) == 1
