"""催发货 and messages: the limits hold across sessions, staff answer with a permission, audited."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import shanghai_date, start_of_shanghai_day, utcnow
from backend.operations import SHIP_PROMISE
from backend.orders.lifecycle import OrderStatus
from backend.staff.models import Role
from backend.staff.permissions import PermissionDenied
from backend.support.lifecycle import RequestKind, RequestStatus, RequestTransitionNotAllowed
from backend.support.models import SupportRequest
from backend.support.service import (
    MAX_OPEN_MESSAGES,
    MESSAGE_MAX_CHARS,
    MessageEmpty,
    MessageTooLong,
    ReminderAlreadySentToday,
    ReminderNotNeeded,
    SupportNotYours,
    TooManyOpenMessages,
    answer_request,
    leave_message,
    list_order_requests,
    list_support_queue,
    reminders_today,
    send_reminder,
)
from tests.factories import make_order


def customer_of(order):
    return Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="sms-link")


def staff(role):
    return Actor(ActorKind.STAFF, "staff:7", channel="admin", role=role)


def late():
    """An instant past the ship promise of an order paid just now, at 10:00 Shanghai."""
    day = shanghai_date(utcnow() + SHIP_PROMISE) + timedelta(days=1)
    return start_of_shanghai_day(day) + timedelta(hours=10)


def count(database, model, *where):
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_late_paid_order_takes_one_reminder_a_day(database):
    order = make_order(database, status=OrderStatus.PAID)
    now = late()
    send_reminder(database, order.id, customer_of(order), promise=SHIP_PROMISE, now=now)
    with pytest.raises(ReminderAlreadySentToday):
        later = now + timedelta(hours=9)  # 19:00 the same Shanghai day
        send_reminder(database, order.id, customer_of(order), promise=SHIP_PROMISE, now=later)
    assert count(database, SupportRequest) == 1
    assert reminders_today(database, order.id, now) == 1
    next_day = now + timedelta(hours=15)  # 01:00 the next Shanghai day
    send_reminder(database, order.id, customer_of(order), promise=SHIP_PROMISE, now=next_day)
    assert count(database, SupportRequest) == 2
    assert count(database, AuditEvent, AuditEvent.action == "support.reminder") == 2


def test_a_reminder_before_the_promise_or_after_shipping_is_refused(database):
    order = make_order(database, status=OrderStatus.PAID)
    with pytest.raises(ReminderNotNeeded) as refused:
        send_reminder(database, order.id, customer_of(order), promise=SHIP_PROMISE)
    assert refused.value.promised_by is not None
    unpaid = make_order(database, status=OrderStatus.PENDING_PAYMENT)
    with pytest.raises(ReminderNotNeeded):
        send_reminder(database, unpaid.id, customer_of(unpaid), promise=SHIP_PROMISE, now=late())
    assert count(database, SupportRequest) == 0
    assert count(database, AuditEvent, AuditEvent.subject == "support_request") == 0


def test_only_the_orders_own_customer_may_remind_or_write(database):
    order = make_order(database, status=OrderStatus.PAID)
    other = make_order(database, status=OrderStatus.PAID)
    with pytest.raises(SupportNotYours):
        send_reminder(database, order.id, customer_of(other), promise=SHIP_PROMISE, now=late())
    with pytest.raises(SupportNotYours):
        leave_message(database, order.id, staff(Role.ADMIN), "你好")
    assert count(database, SupportRequest) == 0


def test_messages_are_limited_in_length_and_in_how_many_wait(database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    customer = customer_of(order)
    with pytest.raises(MessageEmpty):
        leave_message(database, order.id, customer, "   ")
    with pytest.raises(MessageTooLong):
        leave_message(database, order.id, customer, "字" * (MESSAGE_MAX_CHARS + 1))
    for number in range(MAX_OPEN_MESSAGES):
        leave_message(database, order.id, customer, f"第{number}条：快递一直没动")
    with pytest.raises(TooManyOpenMessages):
        leave_message(database, order.id, customer, "还有一条")
    assert count(database, SupportRequest) == MAX_OPEN_MESSAGES
    first = list_order_requests(database, order.id)[0]
    answer_request(database, first.id, staff(Role.SUPPORT), "已联系快递，明天送达")
    leave_message(database, order.id, customer, "好的，谢谢")
    assert count(database, SupportRequest) == MAX_OPEN_MESSAGES + 1


def test_support_answers_once_and_the_customer_reads_the_reply_later(database):
    order = make_order(database, status=OrderStatus.PAID)
    request_id = leave_message(database, order.id, customer_of(order), "能开发票吗？")
    answer_request(database, request_id, staff(Role.SUPERVISOR), "可以，发货时一起寄出")
    [view] = list_order_requests(database, order.id)
    assert view.status is RequestStatus.ANSWERED
    assert view.kind is RequestKind.MESSAGE
    assert view.reply == "可以，发货时一起寄出"
    assert view.replied_at is not None
    with pytest.raises(RequestTransitionNotAllowed):
        answer_request(database, request_id, staff(Role.SUPPORT), "再答一次")
    assert count(database, AuditEvent, AuditEvent.action == "support.answer") == 1


@pytest.mark.parametrize("role", [Role.WAREHOUSE, Role.FINANCE])
def test_staff_without_the_permission_cannot_answer(database, role):
    order = make_order(database, status=OrderStatus.PAID)
    request_id = leave_message(database, order.id, customer_of(order), "在吗")
    with pytest.raises(PermissionDenied):
        answer_request(database, request_id, staff(role), "在")
    [view] = list_order_requests(database, order.id)
    assert view.status is RequestStatus.OPEN and view.reply is None
    assert count(database, AuditEvent, AuditEvent.action == "support.answer") == 0


def test_the_queue_counts_open_reminders_and_messages_per_order_oldest_first(database):
    first = make_order(database, status=OrderStatus.PAID)
    second = make_order(database, status=OrderStatus.PACKED)
    now = late()
    send_reminder(database, first.id, customer_of(first), promise=SHIP_PROMISE, now=now)
    later = now + timedelta(days=1)
    send_reminder(database, first.id, customer_of(first), promise=SHIP_PROMISE, now=later)
    leave_message(database, first.id, customer_of(first), "什么时候发货？", now=later)
    leave_message(database, second.id, customer_of(second), "改一下颜色", now=later)
    queue = list_support_queue(database)
    assert [(e.public_no, e.reminders, e.messages) for e in queue] == [
        (first.public_no, 2, 1),
        (second.public_no, 0, 1),
    ]
    assert queue[0].age(later) == timedelta(days=1)
    for view in list_order_requests(database, second.id):
        answer_request(database, view.id, staff(Role.SUPPORT), "好的")
    assert [e.public_no for e in list_support_queue(database)] == [first.public_no]
