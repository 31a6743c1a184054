"""A built-in sandbox carrier: realistic Chinese route events, produced over time for the demo.

It goes through the same merge path as a real carrier (`record_tracking_update`), so the
timeline, status folding and order delivery it triggers are the production code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.logistics.models import Shipment, TrackingEvent
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TERMINAL_TRACKING_STATUSES, TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.models import AddressVersion, Order

CARRIER_CODE = "sandbox"
ORIGIN_CITY = "杭州市"
ORIGIN_HUB = "杭州转运中心"
COURIERS = ("王师傅", "李师傅", "张师傅", "陈师傅", "刘师傅")

T = TrackingStatus


@dataclass(frozen=True)
class RouteStep:
    status: TrackingStatus
    code: str
    text: str
    location: str
    gap: timedelta  # time since the previous step, at real speed


def hub_for(city: str) -> str:
    return f"{city.removesuffix('市')}转运中心"


def build_route(shipment_id: int, city: str, district: str) -> list[RouteStep]:
    """The steps this parcel will take; deterministic per shipment, varied across shipments."""
    courier = COURIERS[shipment_id % len(COURIERS)]
    hub = hub_for(city)
    h = timedelta(hours=1)
    steps = [
        RouteStep(T.INFO_RECEIVED, "10", "商家已发货，包裹等待揽收", ORIGIN_CITY, 0 * h),
        RouteStep(T.PICKED_UP, "50", f"【{ORIGIN_CITY}】快递员{courier}已揽收", ORIGIN_CITY, 2 * h),
        RouteStep(
            T.IN_TRANSIT, "30", f"【{ORIGIN_CITY}】快件已到达【{ORIGIN_HUB}】", ORIGIN_CITY, 3 * h
        ),
        RouteStep(
            T.IN_TRANSIT,
            "36",
            f"【{ORIGIN_CITY}】快件已从【{ORIGIN_HUB}】发出，下一站【{hub}】",
            ORIGIN_CITY,
            2 * h,
        ),
        RouteStep(T.IN_TRANSIT, "30", f"【{city}】快件已到达【{hub}】", city, 14 * h),
        RouteStep(
            T.IN_TRANSIT,
            "36",
            f"【{city}】快件已从【{hub}】发出，下一站【{district}营业部】",
            city,
            3 * h,
        ),
        RouteStep(
            T.OUT_FOR_DELIVERY,
            "44",
            f"【{city}{district}】快递员{courier}正在派送，请保持电话畅通",
            city,
            4 * h,
        ),
    ]
    if shipment_id % 3 == 0:
        steps.append(
            RouteStep(
                T.AVAILABLE_FOR_PICKUP,
                "130",
                f"【{city}{district}】快件已放入驿站，取件码 {shipment_id % 9 + 1}-2-30"
                f"{shipment_id % 97:02d}，请及时领取",
                city,
                2 * h,
            )
        )
        steps.append(
            RouteStep(T.DELIVERED, "80", f"【{city}{district}】已从驿站取件，感谢使用", city, 5 * h)
        )
    else:
        steps.append(
            RouteStep(
                T.DELIVERED,
                "80",
                f"【{city}{district}】已签收，签收人：本人，感谢使用",
                city,
                3 * h,
            )
        )
    return steps


def events_until(steps: list[RouteStep], start: datetime, count: int) -> list[CarrierEvent]:
    """The first `count` steps as events, spaced at real speed from `start`."""
    events, at = [], start
    for step in steps[:count]:
        at = at + step.gap
        events.append(CarrierEvent(at, step.status, step.text, step.code, step.location))
    return events


def advance_shipments(database: Database, now: datetime | None = None, speed: float = 60.0) -> int:
    """Append the next due step to every moving sandbox parcel; `speed` compresses time."""
    now = now or utcnow()
    with database.read() as session:
        rows = session.execute(
            select(
                Shipment.id,
                Shipment.tracking_no,
                Shipment.status,
                Shipment.label_created_at,
                Shipment.last_event_at,
                AddressVersion.city,
                AddressVersion.district,
                func.count(TrackingEvent.id),
            )
            .join(Order, Order.id == Shipment.order_id)
            .join(AddressVersion, AddressVersion.id == Order.current_address_id)
            .outerjoin(TrackingEvent, TrackingEvent.shipment_id == Shipment.id)
            .where(
                Shipment.carrier_code == CARRIER_CODE,
                Shipment.status.not_in([str(s) for s in TERMINAL_TRACKING_STATUSES]),
            )
            .group_by(Shipment.id, AddressVersion.city, AddressVersion.district)
        ).all()
    actor = Actor(ActorKind.CARRIER, CARRIER_CODE, channel="sandbox")
    moved = 0
    for sid, number, _status, created, last_event, city, district, count in rows:
        steps = build_route(sid, city, district)
        if count >= len(steps):
            continue
        step = steps[count]
        due = (last_event or created) + step.gap / speed
        if due > now:
            continue
        event = CarrierEvent(now, step.status, step.text, step.code, step.location)
        record_tracking_update(
            database,
            CARRIER_CODE,
            number,
            [event],
            source=CARRIER_CODE,
            full_history=False,
            actor=actor,
        )
        moved += 1
    return moved
