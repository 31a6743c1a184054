"""The worker's auto-complete job uses PORTAL_AUTO_COMPLETE_DAYS and is armed as periodic."""

import dataclasses
from datetime import timedelta

from backend.clock import utcnow
from backend.jobs.queue import enqueue
from backend.orders.completion import AUTO_COMPLETE
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from portal.background import PERIODIC
from tests.channel_shops import run_jobs
from tests.factories import make_order


def test_auto_complete_is_a_periodic_job():
    assert AUTO_COMPLETE in {periodic.kind for periodic in PERIODIC}


def test_the_job_completes_orders_delivered_the_set_number_of_days_ago(settings, database):
    settings = dataclasses.replace(settings, auto_complete_days=3)
    due = make_order(database, status=OrderStatus.DELIVERED)
    waiting = make_order(database, status=OrderStatus.DELIVERED)
    with database.write() as session:
        session.get(Order, due.id).delivered_at = utcnow() - timedelta(days=3, minutes=1)
        session.get(Order, waiting.id).delivered_at = utcnow() - timedelta(days=2)
        enqueue(session, AUTO_COMPLETE, {})
    run_jobs(database, settings, AUTO_COMPLETE)
    with database.read() as session:
        assert session.get(Order, due.id).status is OrderStatus.COMPLETED
        assert session.get(Order, waiting.id).status is OrderStatus.DELIVERED
