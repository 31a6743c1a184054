"""A carrier event dated in the future is kept for staff, marked, and moves nothing."""

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from backend.clock import utcnow
from backend.logistics.models import Shipment, TrackingEvent
from backend.logistics.status import TrackingStatus
from backend.notifications.models import Notification, NotificationEvent
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.staff.models import Role
from tests.factories import SYSTEM, create_shipment, make_order
from tests.portal.helpers import open_short_link, staff_login
from tests.portal.test_webhooks import run_worker, signed

WAYBILL = "ZT7500000000077"
FUTURE_TEXT = "【杭州市西湖区】已签收，签收人：本人（三天后）"
GENUINE_TEXT = "【杭州市西湖区】已签收，签收人：门卫"


def item(hours_from_now: float, code: str, text: str) -> dict[str, str]:
    at = (utcnow() + timedelta(hours=hours_from_now)).astimezone(ZoneInfo("Asia/Shanghai"))
    stamp = at.strftime("%Y-%m-%d %H:%M:%S")
    return {"time": stamp, "ftime": stamp, "context": text, "statusCode": code, "location": ""}


def push(*items: dict[str, str]) -> dict[str, str]:
    """A Kuaidi100 push with the full history, newest first, signed with the test salt."""
    newest_first = sorted(items, key=lambda i: i["time"], reverse=True)
    last = {"state": newest_first[0]["statusCode"], "ischeck": "0", "com": "zhongtong"}
    last |= {"nu": WAYBILL, "status": "200", "message": "ok", "data": newest_first}
    body = {"status": "polling", "message": "", "autoCheck": "0", "lastResult": last}
    return signed(json.dumps(body, ensure_ascii=False))


PICKUP = (-5, "103", "【深圳市南山区营业部】快递员已揽收")
TRANSIT = (-1, "1001", "【杭州市】快件已到达【杭州转运中心】")


@pytest.fixture
def shipped(client, database, settings):
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "zhongtong", WAYBILL, SYSTEM)
    return order


def stored(database, order_id):
    with database.read() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.order_id == order_id)).one()
        events = session.scalars(
            select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)
        ).all()
        delivered_notices = session.scalars(
            select(Notification).where(
                Notification.order_id == order_id,
                Notification.event == NotificationEvent.DELIVERED,
            )
        ).all()
        order = session.get(Order, order_id)
        return shipment, events, delivered_notices, order


def headline(html: str) -> str:
    match = re.search(r'<p class="headline">([^<]*)</p>', html)
    assert match, "tracking page has no headline"
    return match.group(1).strip()


def test_a_pushed_delivery_dated_three_days_ahead_leaves_the_parcel_in_transit(
    client, database, settings, shipped
):
    future = item(72, "301", FUTURE_TEXT)
    answer = client.post("/webhooks/kuaidi100", data=push(item(*PICKUP), item(*TRANSIT), future))
    assert answer.status_code == 200 and answer.json()["result"] is True
    run_worker(database, settings)

    shipment, events, notices, order = stored(database, shipped.id)
    assert shipment.status == TrackingStatus.IN_TRANSIT
    assert shipment.delivered_at is None and shipment.raw_status == "1001"
    assert shipment.last_event_at < utcnow()
    assert order.status == OrderStatus.SHIPPED and order.delivered_at is None
    assert notices == []
    held = [e for e in events if e.future_dated]
    assert [e.description for e in held] == [FUTURE_TEXT]  # kept, for staff to see

    open_short_link(client, database, shipped.id)
    page = client.get(f"/orders/{shipped.public_no}")
    assert page.status_code == 200
    assert FUTURE_TEXT not in page.text and "杭州转运中心" in page.text
    assert headline(page.text) == "运输中"
    timeline = client.get(f"/orders/{shipped.public_no}/timeline")
    assert FUTURE_TEXT not in timeline.text


def test_staff_see_the_held_event_marked_on_the_order_page(client, database, settings, shipped):
    client.post(
        "/webhooks/kuaidi100",
        data=push(item(*PICKUP), item(*TRANSIT), item(72, "301", FUTURE_TEXT)),
    )
    run_worker(database, settings)
    staff_login(client, database, Role.SUPPORT)
    page = client.get(f"/admin/orders/{shipped.id}")
    assert page.status_code == 200
    entry = page.text[page.text.index(FUTURE_TEXT) :][:400]
    assert "时间晚于收到时间，未采用" in entry


def test_a_later_genuine_delivery_still_applies_and_is_texted_once(
    client, database, settings, shipped
):
    future = item(72, "301", FUTURE_TEXT)
    client.post("/webhooks/kuaidi100", data=push(item(*PICKUP), item(*TRANSIT), future))
    run_worker(database, settings)
    genuine = item(-0.1, "301", GENUINE_TEXT)
    answer = client.post(
        "/webhooks/kuaidi100", data=push(item(*PICKUP), item(*TRANSIT), genuine, future)
    )
    assert answer.status_code == 200
    run_worker(database, settings)

    shipment, events, notices, order = stored(database, shipped.id)
    assert shipment.status == TrackingStatus.DELIVERED
    assert utcnow() - timedelta(minutes=10) < shipment.delivered_at < utcnow()
    assert order.status == OrderStatus.DELIVERED
    assert [n.channel for n in notices] == ["sms"]
    assert [e.description for e in events if e.future_dated] == [FUTURE_TEXT]

    open_short_link(client, database, shipped.id)
    page = client.get(f"/orders/{shipped.public_no}")
    assert GENUINE_TEXT in page.text and FUTURE_TEXT not in page.text
    assert headline(page.text) == "已签收"
