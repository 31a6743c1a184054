"""Return parcels the carrier has gone quiet on: listed for staff, checked, and gone again."""

import json
import re
from datetime import timedelta

from sqlalchemy import func, select, update

from backend.audit.models import AuditEvent
from backend.clock import in_shanghai, utcnow
from backend.logistics.models import Shipment, ShipmentDirection
from backend.orders.lifecycle import OrderStatus
from backend.refunds.models import ReturnRequest
from backend.staff.models import Role
from portal.settings import Settings, build_rules
from tests.factories import make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login
from tests.portal.test_return_routes import file
from tests.portal.test_webhooks import run_worker, signed

WAYBILL = "ZT7512349999"


def posted_back(client, database):
    """A ¥128 return-and-refund, approved by the rules, its parcel posted by the customer."""
    order = make_order(database, status=OrderStatus.DELIVERED)
    open_short_link(client, database, order.id)
    page = file(client, order, "return_and_refund", "no_reason_7_days", [])
    path = re.search(r'action="(/orders/[^"]+/parcel)"', page.text).group(1)
    token = csrf_token(client, "/lookup")
    client.post(path, data={"carrier": "zhongtong", "tracking_no": WAYBILL, "csrf_token": token})
    with database.read() as session:
        request = session.scalars(select(ReturnRequest)).one()
    assert request.status == "parcel_in_transit"
    return order, request.id


def age_parcel(database, hours):
    """The carrier last said something `hours` ago (time passing, not a code path)."""
    then = utcnow() - timedelta(hours=hours)
    with database.write() as session:
        session.execute(
            update(Shipment)
            .where(Shipment.direction == ShipmentDirection.RETURN)
            .values(created_at=then, label_created_at=then, last_event_at=None)
        )


def quiet_rows(client) -> dict[str, str]:
    page = client.get("/admin/exceptions")
    assert page.status_code == 200
    section = page.text.split('id="quiet-returns"', 1)[1]
    return dict(re.findall(r'data-return-id="(\d+)">(.*?)</tr>', section, re.S))


def carrier_push(hours_ago: float) -> str:
    """A Kuaidi100 push for the return waybill: one in-transit scan, `hours_ago` old."""
    moment = in_shanghai(utcnow() - timedelta(hours=hours_ago)).strftime("%Y-%m-%d %H:%M:%S")
    scan = {
        "time": moment,
        "ftime": moment,
        "context": "【杭州转运中心】快件已发往【上海】",
        "location": "杭州市",
        "status": "在途",
        "statusCode": "0",
    }
    result = {
        "message": "ok",
        "state": "0",
        "status": "200",
        "condition": "F00",
        "ischeck": "0",
        "com": "zhongtong",
        "nu": WAYBILL,
        "data": [scan],
    }
    return json.dumps({"status": "polling", "message": "", "lastResult": result})


def audit_count(database, action) -> int:
    with database.read() as session:
        return session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )


def test_a_fresh_return_parcel_is_not_listed_and_one_quiet_for_73_hours_is(client, database):
    order, return_id = posted_back(client, database)
    staff_login(client, database, Role.SUPPORT)
    assert quiet_rows(client) == {}
    age_parcel(database, 71)
    assert quiet_rows(client) == {}
    age_parcel(database, 73)
    row = quiet_rows(client)[str(return_id)]
    assert order.public_no in row and WAYBILL in row and "中通" in row
    assert "¥128.00" in row and "<td>3</td>" in row
    assert "张三" not in row and "13800138000" not in row and "张*" in row


def test_a_carrier_scan_takes_the_parcel_off_the_queue_by_itself(client, database, settings):
    _order, return_id = posted_back(client, database)
    age_parcel(database, 80)
    staff_login(client, database, Role.SUPPORT)
    assert str(return_id) in quiet_rows(client)
    pushed = client.post("/webhooks/kuaidi100", data=signed(carrier_push(hours_ago=1)))
    assert pushed.status_code == 200
    run_worker(database, settings)
    with database.read() as session:
        moved = session.scalars(
            select(Shipment.last_event_at).where(Shipment.tracking_no == WAYBILL)
        )
        assert utcnow() - moved.one() < timedelta(hours=2)
    assert quiet_rows(client) == {}


def test_marking_a_quiet_parcel_checked_records_who_and_why_and_clears_it(client, database):
    _order, return_id = posted_back(client, database)
    age_parcel(database, 100)
    staff_login(client, database, Role.SUPPORT)
    token = csrf_token(client, "/admin/exceptions")
    answer = client.post(
        f"/admin/returns/{return_id}/parcel-checked",
        data={"note": "已联系顾客，说明天寄出", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/exceptions"
    with database.read() as session:
        request = session.get(ReturnRequest, return_id)
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "return.parcel_checked")
        ).one()
    assert request.parcel_checked_at is not None
    assert request.parcel_check_note == "已联系顾客，说明天寄出"
    assert event.after["note"] == "已联系顾客，说明天寄出" and event.subject_id == str(return_id)
    assert quiet_rows(client) == {}


def test_a_checked_parcel_that_stays_quiet_comes_back(client, database):
    _order, return_id = posted_back(client, database)
    age_parcel(database, 100)
    staff_login(client, database, Role.SUPPORT)
    token = csrf_token(client, "/admin/exceptions")
    client.post(f"/admin/returns/{return_id}/parcel-checked", data={"csrf_token": token})
    with database.write() as session:
        session.execute(
            update(ReturnRequest).values(parcel_checked_at=utcnow() - timedelta(hours=73))
        )
    assert str(return_id) in quiet_rows(client)


def test_the_warehouse_may_see_the_queue_but_not_mark_a_parcel_checked(client, database):
    _order, return_id = posted_back(client, database)
    age_parcel(database, 100)
    staff_login(client, database, Role.WAREHOUSE)
    assert str(return_id) in quiet_rows(client)
    assert "parcel-checked" not in client.get("/admin/exceptions").text
    token = csrf_token(client, "/admin/exceptions")
    answer = client.post(
        f"/admin/returns/{return_id}/parcel-checked", data={"note": "x", "csrf_token": token}
    )
    assert answer.status_code == 403
    with database.read() as session:
        assert session.get(ReturnRequest, return_id).parcel_checked_at is None
    assert audit_count(database, "return.parcel_checked") == 0


def test_a_parcel_signed_in_by_the_warehouse_leaves_the_queue(client, database):
    _order, return_id = posted_back(client, database)
    age_parcel(database, 100)
    staff_login(client, database, Role.SUPERVISOR)
    assert str(return_id) in quiet_rows(client)
    token = csrf_token(client, "/warehouse/scan")
    client.post(
        "/warehouse/scan",
        data={"code": WAYBILL.lower()},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert quiet_rows(client) == {}
    late = client.post(
        f"/admin/returns/{return_id}/parcel-checked",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert late.status_code == 303
    assert audit_count(database, "return.parcel_checked") == 0


def test_the_quiet_limit_comes_from_the_settings():
    rules = build_rules(Settings(return_silent_hours=96))
    assert rules.refunds.return_silent_after == timedelta(hours=96)
    assert build_rules(Settings()).refunds.return_silent_after == timedelta(hours=72)
