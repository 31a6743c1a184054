"""What the browser tests set up: carrier events on a parcel, and the links a customer gets."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.logistics.carriers import sandbox
from backend.logistics.models import Shipment
from backend.logistics.service import TrackingUpdate, record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.access import ORDER_LINK_SALT, LinkSigner, issue_short_link
from backend.orders.models import Order
from portal.settings import Settings
from tests.factories import SYSTEM

CARRIER_ACTOR = Actor(ActorKind.CARRIER, sandbox.CARRIER_CODE, channel="test")
SMS_LINK_LIFETIME = timedelta(days=30)


def hours_ago(hours: float) -> datetime:
    # Whole seconds: carriers report seconds, and the dedupe key is built from them.
    return (utcnow() - timedelta(hours=hours)).replace(microsecond=0)


def route_to_hangzhou() -> list[CarrierEvent]:
    """The first day of a parcel's trip, as the carrier words it, oldest first."""
    return [
        CarrierEvent(
            hours_ago(20), TrackingStatus.INFO_RECEIVED, "商家已发货，包裹等待揽收", "10", "杭州市"
        ),
        CarrierEvent(
            hours_ago(18), TrackingStatus.PICKED_UP, "【杭州市】快递员王师傅已揽收", "50", "杭州市"
        ),
        CarrierEvent(
            hours_ago(15),
            TrackingStatus.IN_TRANSIT,
            "【杭州市】快件已到达【杭州转运中心】",
            "30",
            "杭州市",
        ),
    ]


def out_for_delivery() -> CarrierEvent:
    return CarrierEvent(
        hours_ago(0.01),
        TrackingStatus.OUT_FOR_DELIVERY,
        "【杭州市西湖区】快递员王师傅正在派送，请保持电话畅通",
        "44",
        "杭州市",
    )


def waybill_of(database: Database, order_id: int) -> str:
    with database.read() as session:
        number = session.scalar(select(Shipment.tracking_no).where(Shipment.order_id == order_id))
    assert number is not None, "the order has not shipped"
    return number


def record_events(database: Database, order_id: int, events: list[CarrierEvent]) -> TrackingUpdate:
    """Events pushed by the carrier, through the same merge as a real carrier's callback."""
    return record_tracking_update(
        database,
        sandbox.CARRIER_CODE,
        waybill_of(database, order_id),
        events,
        source=sandbox.CARRIER_CODE,
        full_history=False,
        actor=CARRIER_ACTOR,
    )


def sms_link(database: Database, order_id: int, issued_at: datetime | None = None) -> str:
    """The path of the short link an SMS carries (/t/<code>)."""
    return f"/t/{issue_short_link(database, order_id, SYSTEM, SMS_LINK_LIFETIME, issued_at)}"


def _link_version(database: Database, order_id: int) -> int:
    with database.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order.link_version


def signed_link(settings: Settings, database: Database, order_id: int) -> str:
    """The path of the signed link a WeChat message or H5 button carries (/o/<token>)."""
    signer = LinkSigner(list(settings.secret_keys), timedelta(days=settings.link_max_age_days))
    return f"/o/{signer.sign(order_id, _link_version(database, order_id))}"


def signed_link_issued_days_ago(
    settings: Settings, database: Database, order_id: int, days: int
) -> str:
    """A genuine signed link whose timestamp says it was made `days` ago."""

    class SignedInThePast(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - days * 86400

    serializer = URLSafeTimedSerializer(
        list(settings.secret_keys), salt=ORDER_LINK_SALT, signer=SignedInThePast
    )
    token = serializer.dumps({"o": order_id, "v": _link_version(database, order_id)})
    return f"/o/{token}"


def with_changed_signature(path: str) -> str:
    """The same link with one signature character changed, as a tamperer or bad copy would.

    The first character of the signature is changed: the last one of a base64 text may only
    carry padding bits, and changing those would leave the signature valid.
    """
    payload, signature = path.rsplit(".", 1)
    replacement = "B" if signature[0] == "A" else "A"
    return f"{payload}.{replacement}{signature[1:]}"


def with_changed_code(path: str) -> str:
    """A well-formed short code that was never issued: one character swapped."""
    prefix, code = path[:-1], path[-1]
    return prefix + ("x" if code != "x" else "y")
