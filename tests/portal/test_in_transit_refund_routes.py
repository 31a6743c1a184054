"""仅退款 in transit over HTTP: the customer asks, the Kuaidi100 emulator takes the intercept,
the carrier's push releases the refund once; refusals change nothing."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.clock import in_shanghai, utcnow
from backend.notifications.models import Notification, NotificationEvent
from backend.orders.inventory import save_sku
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, StockMovement
from backend.orders.service import NewLine
from backend.refunds.models import InTransitRefund, Refund
from backend.staff.models import Role
from emulators.kuaidi100 import Kuaidi100Emulator
from portal.app import create_app
from tests.backend.logistics.live_servers import serve
from tests.factories import SYSTEM, create_shipment, make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login
from tests.portal.test_webhooks import run_worker, signed

WAYBILL = "ZT7512340000"
PICKED_UP = ("103", "已揽收", "【杭州西湖营业部】快递员已揽收")
IN_TRANSIT = ("0", "在途", "【杭州转运中心】快件已发往【上海】")
TURNED_BACK = ("6", "退回", "快件已按寄件人要求拦截，退回中")
REFUSED = ("14", "拒签", "收件人拒收")
SIGNED = ("301", "本人签收", "已签收，签收人：本人")


def push(*steps: tuple[str, str, str], number: str = WAYBILL) -> dict[str, str]:
    """A signed Kuaidi100 push carrying the whole trajectory so far, newest first."""
    start = utcnow() - timedelta(hours=len(steps) + 1)
    data = []
    for index, (code, name, context) in enumerate(steps):
        moment = in_shanghai(start + timedelta(hours=index)).strftime("%Y-%m-%d %H:%M:%S")
        data.append(
            {
                "time": moment,
                "ftime": moment,
                "context": context,
                "location": "",
                "status": name,
                "statusCode": code,
            }
        )
    data.reverse()
    result = {
        "message": "ok",
        "state": steps[-1][0],
        "status": "200",
        "condition": "F00",
        "ischeck": "1" if steps[-1][0] == "301" else "0",
        "com": "zhongtong",
        "nu": number,
        "data": data,
    }
    return signed(json.dumps({"status": "polling", "message": "", "lastResult": result}))


@pytest.fixture
def emulator():
    with httpx.Client() as http:
        yield Kuaidi100Emulator(http=http)


@pytest.fixture
def transit_settings(settings, emulator):
    with serve(emulator.app) as url:
        yield dataclasses.replace(
            settings, kuaidi100_secret="TESTSECRET", kuaidi100_api_url=url, kuaidi100_poll_url=url
        )


@pytest.fixture
def web(transit_settings, database):
    with TestClient(create_app(transit_settings, database)) as client:
        yield client


def shipped_order(web, database, settings, emulator, *, quantity=1, steps=(PICKED_UP,)):
    """A ¥128-a-unit order whose zhongtong parcel the carrier has picked up."""
    save_sku(database, "TEA-1", "西湖龙井 250g", 10, None, SYSTEM)
    order = make_order(
        database,
        status=OrderStatus.PACKED,
        lines=[NewLine("TEA-1", "西湖龙井 250g", quantity, 12_800)],
    )
    create_shipment(database, order.id, "zhongtong", WAYBILL, SYSTEM)
    emulator.add_waybill("zhongtong", WAYBILL, steps_done=2)
    assert web.post("/webhooks/kuaidi100", data=push(*steps)).status_code == 200
    run_worker(database, settings)
    assert status_of(database, order.id) == OrderStatus.SHIPPED
    open_short_link(web, database, order.id)
    return order


def status_of(database, order_id):
    with database.read() as session:
        return session.get(Order, order_id).status


def page_path(order) -> str:
    return f"/orders/{order.public_no}/refund-in-transit"


def ask(web, order, method="intercept", reason="changed_mind"):
    page = web.get(page_path(order))
    assert page.status_code == 200
    parcel = re.search(r'name="shipment_id" value="(\d+)"', page.text)
    shipment_id = parcel.group(1) if parcel else "1"
    token = csrf_token(web)
    return web.post(
        page_path(order),
        data={"method": method, "reason": reason, "shipment_id": shipment_id, "csrf_token": token},
        follow_redirects=False,
    )


def requests_of(database):
    with database.read() as session:
        return list(session.scalars(select(InTransitRefund)))


def refunds_of(database, order_id):
    with database.read() as session:
        return list(session.scalars(select(Refund).where(Refund.order_id == order_id)))


def test_an_intercept_is_sent_to_kuaidi100_and_the_turning_back_releases_the_refund_once(
    web, database, transit_settings, emulator
):
    order = shipped_order(web, database, transit_settings, emulator)
    assert "拦截退回" in web.get(page_path(order)).text
    assert ask(web, order).status_code == 303
    run_worker(database, transit_settings)
    [record] = emulator.intercepts
    assert record.accepted and record.param["interceptType"] == "RETURN_SEND_ADDR"
    assert record.param["kuaidinum"] == WAYBILL and record.param["orderId"] == order.public_no
    [request] = requests_of(database)
    assert request.status == "intercept_asked" and request.carrier_note.startswith("受理")
    assert refunds_of(database, order.id) == []
    for _ in range(2):  # the carrier pushes the same news twice
        turned = push(PICKED_UP, IN_TRANSIT, TURNED_BACK)
        assert web.post("/webhooks/kuaidi100", data=turned).status_code == 200
        run_worker(database, transit_settings)
    [refund] = refunds_of(database, order.id)
    assert refund.amount_fen == 12_800
    [request] = requests_of(database)
    assert request.refund_id == refund.id
    assert request.status in ("refunding", "refund_failed")  # no gateway in these tests
    page = web.get(page_path(order)).text
    assert 'data-status="refund' in page and "¥128.00" in page
    assert "金额不超过" in page or "amount at most" in page
    assert len(emulator.intercepts) == 1


def test_a_refusal_at_the_door_releases_the_refund_when_the_carrier_reports_it(
    web, database, transit_settings, emulator
):
    order = shipped_order(web, database, transit_settings, emulator)
    assert ask(web, order, method="refuse").status_code == 303
    run_worker(database, transit_settings)
    assert emulator.intercepts == []
    [request] = requests_of(database)
    assert request.status == "refuse_advised"
    assert "拒收" in web.get(page_path(order)).text
    for _ in range(2):
        web.post("/webhooks/kuaidi100", data=push(PICKED_UP, IN_TRANSIT, REFUSED))
        run_worker(database, transit_settings)
    [refund] = refunds_of(database, order.id)
    assert refund.amount_fen == 12_800


def test_a_second_request_for_the_same_parcel_is_refused_and_nothing_is_written(
    web, database, transit_settings, emulator
):
    order = shipped_order(web, database, transit_settings, emulator)
    assert ask(web, order).status_code == 303
    page = web.get(page_path(order)).text
    shipment_id = re.search(r'id="parcel-(\d+)"', page).group(1)
    token = csrf_token(web)
    again = web.post(
        page_path(order),
        data={
            "method": "refuse",
            "reason": "changed_mind",
            "shipment_id": shipment_id,
            "csrf_token": token,
        },
    )
    assert again.status_code == 409
    assert "已经申请" in again.text or "already asked" in again.text
    assert len(requests_of(database)) == 1


def test_a_delivered_parcel_can_not_be_stopped(web, database, transit_settings, emulator):
    order = shipped_order(web, database, transit_settings, emulator)
    web.post("/webhooks/kuaidi100", data=push(PICKED_UP, IN_TRANSIT, SIGNED))
    run_worker(database, transit_settings)
    assert status_of(database, order.id) == OrderStatus.DELIVERED
    page = web.get(page_path(order))
    assert 'name="shipment_id"' not in page.text
    token = csrf_token(web)
    with database.read() as session:
        shipment_id = session.scalar(select(InTransitRefund.id)) or 0
    refused = web.post(
        page_path(order),
        data={
            "method": "intercept",
            "reason": "changed_mind",
            "shipment_id": str(shipment_id),
            "csrf_token": token,
        },
    )
    assert refused.status_code == 409
    assert requests_of(database) == [] and emulator.intercepts == []


def test_a_large_amount_goes_to_a_person_who_approves_it_from_the_queue(
    web, database, transit_settings, emulator
):
    order = shipped_order(web, database, transit_settings, emulator, quantity=2)
    assert ask(web, order).status_code == 303
    run_worker(database, transit_settings)
    web.post("/webhooks/kuaidi100", data=push(PICKED_UP, IN_TRANSIT, TURNED_BACK))
    run_worker(database, transit_settings)
    [request] = requests_of(database)
    assert request.status == "in_review" and refunds_of(database, order.id) == []
    staff_login(web, database, Role.SUPPORT)
    queue = web.get("/admin/in-transit-refunds").text
    assert f'id="in-transit-{request.id}"' in queue and "amount_within_auto_limit" in queue
    token = csrf_token(web, "/admin/in-transit-refunds")
    done = web.post(
        f"/admin/in-transit-refunds/{request.id}",
        data={"action": "approve", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    [refund] = refunds_of(database, order.id)
    assert refund.amount_fen == 25_600
    again = web.post(
        f"/admin/in-transit-refunds/{request.id}", data={"action": "approve", "csrf_token": token}
    )
    assert again.status_code == 409 and len(refunds_of(database, order.id)) == 1


def test_the_returned_parcel_scanned_twice_puts_its_units_back_on_sale_once(
    web, database, transit_settings, emulator
):
    order = shipped_order(web, database, transit_settings, emulator)
    ask(web, order)
    run_worker(database, transit_settings)
    web.post("/webhooks/kuaidi100", data=push(PICKED_UP, IN_TRANSIT, TURNED_BACK))
    run_worker(database, transit_settings)
    staff_login(web, database, Role.WAREHOUSE)
    for _ in range(2):
        token = csrf_token(web, "/warehouse/scan")
        scanned = web.post("/warehouse/scan", data={"code": WAYBILL, "csrf_token": token})
        assert scanned.status_code == 200 and "intercepted-received" in scanned.text
    with database.read() as session:
        moved = session.scalar(
            select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
                StockMovement.order_id == order.id, StockMovement.kind == "restock"
            )
        )
    assert moved == 1


def test_an_intercept_the_carrier_refuses_goes_to_staff_who_tell_the_customer_to_refuse(
    web, database, transit_settings, emulator
):
    order = shipped_order(web, database, transit_settings, emulator)
    waybill = emulator.waybills[WAYBILL]
    waybill.revealed = len(waybill.plan)  # signed at the carrier before our push arrived
    ask(web, order)
    run_worker(database, transit_settings)
    [request] = requests_of(database)
    assert request.status == "intercept_failed" and "仅支持运输中" in request.carrier_note
    assert 'data-status="intercept_failed"' in web.get(page_path(order)).text
    staff_login(web, database, Role.SUPPORT)
    assert f'id="in-transit-{request.id}"' in web.get("/admin/in-transit-refunds").text
    token = csrf_token(web, "/admin/in-transit-refunds")
    web.post(
        f"/admin/in-transit-refunds/{request.id}",
        data={"action": "advise_refuse", "csrf_token": token},
    )
    [request] = requests_of(database)
    assert request.status == "refuse_advised"
    with database.read() as session:
        told = session.scalars(
            select(Notification.event).where(Notification.order_id == order.id)
        ).all()
    assert told.count(NotificationEvent.REFUSE_DELIVERY) == 1
    assert f'id="in-transit-{request.id}"' not in web.get("/admin/in-transit-refunds").text


def test_the_order_page_offers_it_only_while_a_parcel_can_be_on_the_road(
    web, database, transit_settings, emulator
):
    order = shipped_order(web, database, transit_settings, emulator)
    assert page_path(order) in web.get(f"/orders/{order.public_no}").text
    delivered = make_order(database, status=OrderStatus.DELIVERED)
    open_short_link(web, database, delivered.id)
    assert page_path(delivered) not in web.get(f"/orders/{delivered.public_no}").text
