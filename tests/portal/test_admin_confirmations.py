"""The staff queue of refused ship confirmations, over HTTP: the platform's words, then Retry."""

from __future__ import annotations

import re

from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.fulfilment.confirmations import CONFIRM_SHIPMENT
from backend.fulfilment.models import ConfirmationStatus, ShipConfirmationRecord
from backend.staff.models import Role
from tests.channel_shops import (
    SHOPS,
    app_client,
    order_of,
    run_jobs,
    ship,
    stock,
    take_orders,
    tmall_push,
    two_tmall_shops,
)
from tests.portal.helpers import csrf_token, staff_login


def _record(database, shipment_id):
    with database.read() as session:
        return session.scalars(
            select(ShipConfirmationRecord).where(ShipConfirmationRecord.shipment_id == shipment_id)
        ).one()


def test_a_refused_confirmation_is_shown_with_its_message_and_a_retry_confirms_it(
    database, settings, tmp_path
):
    stock(database)
    with two_tmall_shops(settings, tmp_path) as world, app_client(world.settings, database) as c:
        c.post(
            "/webhooks/channels/tmall/tmall-outlet",
            data=tmall_push(80, "18621000080", SHOPS["tmall-outlet"][1]),
        )
        take_orders(c, database, world.settings)
        order = order_of(database, 80)
        world.top.refuse("80", "isv.logistics-offline-service-error", "运单号不符合规则")
        shipment_id = ship(database, order.id, "yuantong", "YT8000000000001")
        run_jobs(database, world.settings, CONFIRM_SHIPMENT)

        staff_login(c, database, Role.WAREHOUSE)
        page = c.get("/admin/confirmations")
        assert page.status_code == 200
        assert (
            "运单号不符合规则" in page.text and "isv.logistics-offline-service-error" in page.text
        )
        assert order.public_no in page.text and "YT8000000000001" in page.text
        record_id = _record(database, shipment_id).id
        assert f"/admin/confirmations/{record_id}/retry" in page.text

        world.top.accept("80")
        token = csrf_token(c, "/admin/confirmations")
        answer = c.post(
            f"/admin/confirmations/{record_id}/retry",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert (answer.status_code, answer.headers["location"]) == (303, "/admin/confirmations")
        assert _record(database, shipment_id).status == ConfirmationStatus.PENDING
        run_jobs(database, world.settings, CONFIRM_SHIPMENT)
        after = c.get("/admin/confirmations")
        recorded = [(r.shop, r.order_no, r.waybill) for r in world.top.confirmations]
    assert recorded == [("outlet-key", "80", "YT8000000000001")]
    record = _record(database, shipment_id)
    assert record.status == ConfirmationStatus.CONFIRMED and record.confirmed_at is not None
    assert "运单号不符合规则" not in after.text
    with database.read() as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject == "ship_confirmation")
            .order_by(AuditEvent.id)
        ).all()
    assert actions == [
        "shipment.channel_refused",
        "shipment.channel_confirmation_retried",
        "shipment.channel_confirmed",
    ]


def test_a_retry_without_the_csrf_token_or_of_a_confirmed_one_changes_nothing(
    database, settings, tmp_path
):
    stock(database)
    with two_tmall_shops(settings, tmp_path) as world, app_client(world.settings, database) as c:
        c.post(
            "/webhooks/channels/tmall",
            data=tmall_push(81, "18621000081", SHOPS["tmall-flagship"][1]),
        )
        take_orders(c, database, world.settings)
        shipment_id = ship(database, order_of(database, 81).id, "yuantong", "YT8100000000001")
        run_jobs(database, world.settings, CONFIRM_SHIPMENT)
        record_id = _record(database, shipment_id).id
        staff_login(c, database, Role.SUPERVISOR)
        forged = c.post(f"/admin/confirmations/{record_id}/retry", follow_redirects=False)
        token = csrf_token(c, "/admin/confirmations")
        again = c.post(
            f"/admin/confirmations/{record_id}/retry",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        missing = c.post(
            "/admin/confirmations/999999/retry", data={"csrf_token": token}, follow_redirects=False
        )
        calls = world.top.calls
    assert forged.status_code == 403
    assert again.status_code == 303 and missing.status_code == 303
    assert _record(database, shipment_id).status == ConfirmationStatus.CONFIRMED
    assert calls == 1


def test_the_queue_link_shows_only_for_roles_that_may_retry(client, database):
    staff_login(client, database, Role.SUPPORT)
    page = client.get("/admin/orders")
    assert not re.search(r'href="/admin/confirmations"', page.text)
    assert client.get("/admin/confirmations").status_code == 403
