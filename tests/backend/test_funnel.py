"""The self-service funnel on known data: counters added up per day, actions counted from rows."""

from __future__ import annotations

from datetime import date, timedelta

from starlette.testclient import TestClient

from backend.actors import Actor, ActorKind
from backend.clock import shanghai_date, utcnow
from backend.figures import DayRange
from backend.funnel import FunnelStep, add_counts, funnel_for
from backend.orders.lifecycle import OrderStatus
from backend.support.service import leave_message, send_reminder
from portal.app import create_app
from tests.factories import make_order
from tests.portal.helpers import open_short_link

DAY = date(2026, 11, 11)


def _funnel(database, first: date, last: date):
    days = DayRange(first, last)
    return funnel_for(database, days.first, days.last, days.start, days.end)


def test_counters_from_several_processes_add_up_per_day(database):
    add_counts(database, {(DAY, FunnelStep.LINK_OPENED): 3, (DAY, FunnelStep.PAGE_VIEWED): 5})
    add_counts(database, {(DAY, FunnelStep.PAGE_VIEWED): 2})  # another process's batch
    add_counts(database, {(DAY + timedelta(days=1), FunnelStep.PAGE_VIEWED): 100})
    add_counts(database, {})
    one_day = _funnel(database, DAY, DAY)
    assert (one_day.links_opened, one_day.pages_viewed) == (3, 7)
    two_days = _funnel(database, DAY, DAY + timedelta(days=1))
    assert two_days.pages_viewed == 107
    assert _funnel(database, DAY - timedelta(days=5), DAY - timedelta(days=1)).pages_viewed == 0


def test_actions_and_messages_are_counted_from_what_customers_made(database):
    today = shanghai_date(utcnow())
    order = make_order(database, status=OrderStatus.PAID, placed_at=utcnow() - timedelta(days=3))
    customer = Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="sms-link")
    leave_message(database, order.id, customer, "什么时候发货？")
    send_reminder(database, order.id, customer, promise=timedelta(hours=0))
    funnel = _funnel(database, today, today)
    assert (funnel.actions, funnel.messages) == (0, 2)
    assert funnel.messages_per_action is None
    assert _funnel(database, today - timedelta(days=9), today - timedelta(days=3)).messages == 0


def test_a_link_opened_and_the_page_viewed_are_counted_once_each(settings, database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    with TestClient(create_app(settings, database)) as client:
        opened = open_short_link(client, database, order.id)
        client.get(opened.headers["location"])
        client.get(f"/orders/{order.public_no}/timeline")  # htmx polling is not a view
        client.app.state.funnel.flush()
    today = shanghai_date(utcnow())
    funnel = _funnel(database, today, today)
    assert (funnel.links_opened, funnel.pages_viewed) == (1, 1)
