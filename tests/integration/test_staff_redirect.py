"""拦截改派 by staff: from the order page over HTTP to Kuaidi100's interceptOrder MODIFY_ADDR.

The customer phoned in: support pastes the new address with a reason; the address applies
at once (a new version, audited), the worker asks the carrier (the emulator) once, and
the customer's page shows the new area. Bad input and orders that can't be redirected get
a clear notice and change nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.jobs.worker import Worker
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import AddressChange, AddressVersion, ChangeKind, ChangeStatus, Order
from backend.staff.models import Role
from emulators.kuaidi100 import Kuaidi100Emulator
from portal.app import create_app
from portal.background import build_handlers
from portal.integrations import build_integrations
from tests.backend.logistics.live_servers import serve
from tests.factories import SYSTEM, create_shipment, make_order
from tests.portal.helpers import csrf_token, staff_login
from tests.staff_world import changed_tables, snapshot

NEW = "王五 13711112222 上海市浦东新区张杨路500号"


def _post(client, order_id, address, reason="客户来电改址", token=None):
    token = token or csrf_token(client, f"/admin/orders/{order_id}")
    answer = client.post(
        f"/admin/orders/{order_id}/redirect",
        data={"address": address, "reason": reason, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    return answer.headers["location"].rsplit("notice=", 1)[-1]


def test_support_redirects_a_parcel_and_the_carrier_is_asked_once(database, settings):
    emulator = Kuaidi100Emulator(start=datetime.now(UTC) - timedelta(days=1))
    with serve(emulator.app) as kuaidi100_url:
        wired = replace(
            settings,
            kuaidi100_poll_url=kuaidi100_url,
            kuaidi100_api_url=kuaidi100_url,
            kuaidi100_secret=emulator.secret,
        )
        order = make_order(database, status=OrderStatus.PACKED)
        create_shipment(database, order.id, "zhongtong", "ZT7599999999998", SYSTEM)
        integrations = build_integrations(wired)
        worker = Worker(database, build_handlers(wired, integrations))
        worker.run_until_idle()
        with TestClient(create_app(wired, database)) as client:
            staff_login(client, database, Role.SUPPORT, "客服小王")
            page = client.get(f"/admin/orders/{order.id}")
            assert 'id="redirect"' in page.text
            assert _post(client, order.id, NEW) == "redirected"
            # At once, before any job ran: the new address is the order's.
            with database.read() as session:
                current = session.scalar(
                    select(AddressVersion)
                    .join(Order, Order.current_address_id == AddressVersion.id)
                    .where(Order.id == order.id)
                )
                assert (current.version, current.recipient_name) == (2, "王五")
            page = client.get(f"/admin/orders/{order.id}?notice=redirected")
            assert "已记录改派" in page.text
            assert "王五" in page.text and "13711112222" not in page.text  # masked
        worker.run_until_idle()
        worker.run_until_idle()
        integrations.close()
    emulator._http.close()
    modify = [i for i in emulator.intercepts if i.param.get("interceptType") == "MODIFY_ADDR"]
    assert len(modify) == 1 and modify[0].accepted
    assert modify[0].param["recManInfo"]["name"] == "王五"
    assert modify[0].param["kuaidinum"] == "ZT7599999999998"
    with database.read() as session:
        change = session.scalars(select(AddressChange)).one()
        assert (change.kind, change.status) == (ChangeKind.INTERCEPT, ChangeStatus.APPLIED)
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.order_id == order.id)
        ).all()
    assert "address.redirected_by_staff" in actions
    assert "shipment.address_change_requested" in actions


def test_garbage_and_orders_not_on_the_road_get_a_notice_and_change_nothing(client, database):
    paid = make_order(database, status=OrderStatus.PAID)
    shipped = make_order(database, status=OrderStatus.SHIPPED)
    delivered = make_order(database, status=OrderStatus.DELIVERED)
    staff_login(client, database, Role.SUPPORT)
    token = csrf_token(client, f"/admin/orders/{paid.id}")
    assert 'id="redirect"' not in client.get(f"/admin/orders/{paid.id}").text
    before = snapshot(database)
    assert _post(client, paid.id, NEW, token=token) == "redirect_not_allowed"
    assert _post(client, delivered.id, NEW, token=token) == "redirect_not_allowed"
    assert _post(client, shipped.id, "随便写点", token=token) == "redirect_unclear"
    assert _post(client, shipped.id, "王五 12345 上海市浦东新区张杨路500号", token=token) in (
        "redirect_unclear",
        "redirect_invalid",
    )
    assert _post(client, shipped.id, NEW, reason=" ", token=token) == "redirect_reason"
    assert changed_tables(before, snapshot(database)) == set()
    missing = client.post(
        "/admin/orders/999999/redirect", data={"address": NEW, "reason": "x", "csrf_token": token}
    )
    assert missing.status_code == 404
