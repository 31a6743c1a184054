"""Correct a hand-typed waybill from the staff order page, while the carrier is silent."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.fulfilment.models import ConfirmationStatus, ShipConfirmationRecord
from backend.fulfilment.waybills import WaybillSource, record_waybill
from backend.jobs.models import Job
from backend.logistics.models import Shipment
from backend.logistics.service import SUBSCRIBE, record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.staff.models import Role
from tests.factories import SYSTEM, make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login

TYPO, RIGHT = "SF1234567890123", "SF1234567890124"


def hand_waybill(database, number=TYPO, carrier="shunfeng"):
    order = make_order(database)
    clerk = Actor(ActorKind.STAFF, "仓库小张", role=Role.WAREHOUSE)
    done = record_waybill(database, order.id, carrier, number, clerk, source=WaybillSource.MANUAL)
    return order, done.shipment_id


def correct(client, order_id, shipment_id, carrier="shunfeng", waybill=RIGHT):
    page = f"/admin/orders/{order_id}"
    return client.post(
        f"{page}/shipments/{shipment_id}/waybill",
        data={"carrier": carrier, "waybill": waybill, "csrf_token": csrf_token(client, page)},
        follow_redirects=False,
    )


def flash(client, location):
    found = re.search(r'<p class="flash" role="status">([^<]+)</p>', client.get(location).text)
    return found.group(1) if found else None


def parcel(database, shipment_id):
    with database.read() as session:
        shipment = session.get(Shipment, shipment_id)
        keys = session.scalars(select(Job.key).where(Job.kind == SUBSCRIBE).order_by(Job.id)).all()
        audit = session.execute(
            select(AuditEvent.actor_id, AuditEvent.before, AuditEvent.after).where(
                AuditEvent.action == "shipment.waybill_corrected"
            )
        ).all()
        return (shipment.carrier_code, shipment.tracking_no), keys, [tuple(a) for a in audit]


def test_a_typo_is_corrected_resubscribed_audited_and_shown_to_the_customer(client, database):
    order, shipment_id = hand_waybill(database)
    open_short_link(client, database, order.id)
    assert TYPO in client.get(f"/orders/{order.public_no}").text  # the page is cached now
    staff_login(client, database, Role.WAREHOUSE, name="仓库小李")
    assert "更正运单" in client.get(f"/admin/orders/{order.id}").text
    answer = correct(client, order.id, shipment_id, waybill=" sf1234 5678 90124 ")
    assert answer.headers["location"].endswith("?notice=waybill_corrected#shipments")
    assert flash(client, answer.headers["location"]).startswith("运单已更正")
    number, keys, audit = parcel(database, shipment_id)
    assert number == ("shunfeng", RIGHT)
    assert keys == [f"subscribe:{shipment_id}", f"subscribe:{shipment_id}:corrected:1"]
    assert audit == [
        (
            "仓库小李",
            {"carrier": "shunfeng", "tracking_no": TYPO},
            {"carrier": "shunfeng", "tracking_no": RIGHT, "channel_told": False},
        )
    ]
    customer_page = client.get(f"/orders/{order.public_no}").text
    assert RIGHT in customer_page and TYPO not in customer_page


def test_the_same_number_again_changes_nothing_and_a_second_fix_subscribes_again(client, database):
    order, shipment_id = hand_waybill(database)
    staff_login(client, database, Role.SUPERVISOR)
    correct(client, order.id, shipment_id)
    again = correct(client, order.id, shipment_id)
    assert again.headers["location"].endswith("?notice=waybill_unchanged#shipments")
    correct(client, order.id, shipment_id, carrier="zhongtong", waybill="73100000000001")
    number, keys, audit = parcel(database, shipment_id)
    assert number == ("zhongtong", "73100000000001") and len(audit) == 2
    assert keys[-1] == f"subscribe:{shipment_id}:corrected:2"


def test_once_the_carrier_has_reported_the_waybill_is_not_corrected(client, database):
    order, shipment_id = hand_waybill(database)
    record_tracking_update(
        database,
        "shunfeng",
        TYPO,
        [CarrierEvent(utcnow(), TrackingStatus.IN_TRANSIT, "已揽收", "1")],
        source="test",
        full_history=False,
        actor=SYSTEM,
    )
    staff_login(client, database, Role.WAREHOUSE)
    assert "更正运单" not in client.get(f"/admin/orders/{order.id}").text
    answer = correct(client, order.id, shipment_id)
    assert answer.headers["location"].endswith("?notice=carrier_has_it#shipments")
    assert "快递公司已经返回" in flash(client, answer.headers["location"])
    assert parcel(database, shipment_id)[0] == ("shunfeng", TYPO)


def test_a_channel_that_has_the_old_number_is_flagged_for_staff(client, database):
    order, shipment_id = hand_waybill(database)
    with database.write() as session:
        record = session.scalars(
            select(ShipConfirmationRecord).where(ShipConfirmationRecord.shipment_id == shipment_id)
        ).first()
        if record is None:
            record = ShipConfirmationRecord(
                shipment_id=shipment_id,
                order_id=order.id,
                platform=order.channel,
                idempotency_key="k",
            )
            session.add(record)
        record.status = ConfirmationStatus.CONFIRMED
    staff_login(client, database, Role.WAREHOUSE)
    answer = correct(client, order.id, shipment_id)
    assert answer.headers["location"].endswith("?notice=waybill_corrected_tell_channel#shipments")
    assert "请同时在店铺后台修改" in flash(client, answer.headers["location"])
    assert parcel(database, shipment_id)[2][0][2]["channel_told"] is True


@pytest.mark.parametrize(
    ("carrier", "waybill", "notice"),
    [
        ("shunfeng", "not a number", "waybill=bad_number"),
        ("shunfeng", "73100000000001", "waybill=not_this_carriers"),
        ("nonsense", RIGHT, "waybill=unknown_carrier"),
        ("shunfeng", "", "waybill=bad_number"),
    ],
)
def test_garbage_is_a_notice_and_nothing_changes(client, database, carrier, waybill, notice):
    order, shipment_id = hand_waybill(database)
    staff_login(client, database, Role.WAREHOUSE)
    answer = correct(client, order.id, shipment_id, carrier=carrier, waybill=waybill)
    assert answer.status_code == 303 and f"?{notice}#" in answer.headers["location"]
    assert parcel(database, shipment_id)[0] == ("shunfeng", TYPO)


def test_a_number_of_another_parcel_and_a_parcel_of_another_order_are_refused(client, database):
    order, shipment_id = hand_waybill(database)
    _other, other_shipment = hand_waybill(database, number=RIGHT)
    staff_login(client, database, Role.WAREHOUSE)
    taken = correct(client, order.id, shipment_id)
    assert "?waybill=used_on_another_order#" in taken.headers["location"]
    wrong_order = correct(client, order.id, other_shipment, waybill="SF1234567890999")
    assert "?notice=no_such_parcel#" in wrong_order.headers["location"]
    assert parcel(database, shipment_id)[0] == ("shunfeng", TYPO)
    assert parcel(database, other_shipment)[0] == ("shunfeng", RIGHT)


@pytest.mark.parametrize("role", [Role.SUPPORT, Role.FINANCE])
def test_roles_without_record_waybills_get_403(client, database, role):
    order, shipment_id = hand_waybill(database)
    staff_login(client, database, role)
    assert "更正运单" not in client.get(f"/admin/orders/{order.id}").text
    assert correct(client, order.id, shipment_id).status_code == 403
    assert parcel(database, shipment_id)[0] == ("shunfeng", TYPO)
