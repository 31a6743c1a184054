"""Logistics services: creating shipments and merging carrier events into their timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.logistics import parcels
from backend.logistics.carriers.kuaidi100 import REFUSED_CODES
from backend.logistics.carriers.names import carrier_name
from backend.logistics.estimates import estimate_from_history, lane_transit_hours
from backend.logistics.models import Shipment, ShipmentDirection, TrackingEvent
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import (
    CarrierEvent,
    dedupe_key,
    first_time,
    fold_status,
    is_future_dated,
)
from backend.notifications import outbox
from backend.notifications.models import Notification, NotificationEvent, NotificationStatus
from backend.orders import inventory
from backend.orders.lifecycle import OrderAction, OrderStatus, can
from backend.orders.models import AddressVersion, Order
from backend.orders.service import OrderNotFound

SUBSCRIBE = "tracking.subscribe"
RETURN_PARCEL_MOVED = "logistics.return_parcel_moved"
OUTBOUND_PARCEL_TURNED = "logistics.outbound_parcel_turned"
# Parcels of the built-in demo carrier move by themselves; nobody outside tracks them.
INTERNAL_CARRIERS = frozenset({"sandbox"})


NOTIFY_ON = {
    TrackingStatus.OUT_FOR_DELIVERY: NotificationEvent.OUT_FOR_DELIVERY,
    TrackingStatus.AVAILABLE_FOR_PICKUP: NotificationEvent.AVAILABLE_FOR_PICKUP,
    TrackingStatus.DELIVERED: NotificationEvent.DELIVERED,
    TrackingStatus.FAILED_ATTEMPT: NotificationEvent.FAILED_ATTEMPT,
    TrackingStatus.EXCEPTION: NotificationEvent.EXCEPTION,
}


# A transition that happened long ago (a backlog after an outage, history imported with a
# shipment) is old news: the customer is not texted about yesterday's delivery.
NEWS_WINDOW = timedelta(hours=24)


def is_news(occurred_at: datetime) -> bool:
    return occurred_at > utcnow() - NEWS_WINDOW


def _notice_details(shipment: Shipment) -> dict[str, str]:
    return {"carrier": carrier_name(shipment.carrier_code), "waybill": shipment.tracking_no}


class ShipmentNotFound(Exception):
    """No shipment with that carrier and waybill number."""


class DuplicateWaybill(Exception):
    """That carrier's waybill number is already used by another shipment."""


@dataclass(frozen=True)
class TrackingUpdate:
    shipment_id: int
    order_id: int
    added: int
    removed: int
    status_before: TrackingStatus
    status_after: TrackingStatus

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.status_before != self.status_after)


def add_outbound_parcel(
    session: Session,
    order: Order,
    carrier_code: str,
    tracking_no: str,
    actor: Actor,
    at: datetime,
    origin_province: str | None,
    source: str | None = None,
) -> Shipment:
    """A labelled parcel for a locked order, inside the caller's transaction; tracking starts."""
    taken = session.scalar(
        select(Shipment.id).where(
            Shipment.carrier_code == carrier_code, Shipment.tracking_no == tracking_no
        )
    )
    if taken is not None:
        raise DuplicateWaybill(tracking_no)
    destination = session.scalar(
        select(AddressVersion.province).where(AddressVersion.id == order.current_address_id)
    )
    estimate = estimate_from_history(
        at,
        lane_transit_hours(session, carrier_code, origin_province, destination, at),
        origin_province,
        destination,
    )
    shipment = Shipment(
        order_id=order.id,
        direction=ShipmentDirection.OUTBOUND,
        carrier_code=carrier_code,
        tracking_no=tracking_no,
        status=TrackingStatus.INFO_RECEIVED,
        origin_province=origin_province,
        destination_province=destination,
        label_created_at=at,
        created_at=at,
        source=source,
        estimated_earliest=estimate.earliest,
        estimated_latest=estimate.latest,
    )
    session.add(shipment)
    session.flush()
    if carrier_code not in INTERNAL_CARRIERS:
        jobs.enqueue(
            session, SUBSCRIBE, {"shipment_id": shipment.id}, key=f"subscribe:{shipment.id}"
        )
    audit.record(
        session,
        actor,
        "shipment.created",
        subject="shipment",
        subject_id=shipment.id,
        order_id=order.id,
        after={"carrier": carrier_code, "tracking_no": tracking_no},
        at=at,
    )
    return shipment


def ship_parcel(
    session: Session, order: Order, shipment: Shipment, actor: Actor, at: datetime
) -> None:
    """The parcel left: its units leave the stock, the order follows, the customer hears once."""
    shipment.shipped_at = at
    ordered = parcels.ordered_quantities(session, order.id)
    contents = parcels.parcel_contents(session, [shipment], ordered)[shipment.id]
    inventory.commit_lines(session, order.id, contents, actor.identifier, strict=False)
    parcels.follow_parcels(session, order, actor, at)
    if is_news(at):
        _notify_shipped(session, order.id, shipment)


# One "shipped" text per order per hour: parcels leaving together make one message that
# counts them, not a message each.
SHIPPED_NOTICE_GAP = timedelta(hours=1)


def _notify_shipped(session: Session, order_id: int, shipment: Shipment) -> None:
    gone = [p for p in parcels.outbound_parcels(session, order_id) if p.shipped_at is not None]
    details = {**_notice_details(shipment), "parcels": str(len(gone))}
    recent = session.scalars(
        select(Notification).where(
            Notification.order_id == order_id,
            Notification.event == NotificationEvent.SHIPPED,
            Notification.created_at > utcnow() - SHIPPED_NOTICE_GAP,
        )
    ).all()
    if recent:
        for waiting in recent:
            if waiting.status == NotificationStatus.PENDING:
                waiting.params = {**waiting.params, "parcels": details["parcels"]}
        return
    outbox.notify(
        session, order_id, NotificationEvent.SHIPPED, shipment_id=shipment.id, details=details
    )


def _locked_order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id, with_for_update=True)
    if order is None:
        raise OrderNotFound(order_id)
    return order


def add_return_shipment(
    session: Session, order_id: int, carrier_code: str, tracking_no: str, actor: Actor
) -> Shipment:
    """The customer's parcel coming back, inside the caller's transaction; tracked like any."""
    taken = session.scalar(
        select(Shipment.id).where(
            Shipment.carrier_code == carrier_code, Shipment.tracking_no == tracking_no
        )
    )
    if taken is not None:
        raise DuplicateWaybill(tracking_no)
    now = utcnow()
    shipment = Shipment(
        order_id=order_id,
        direction=ShipmentDirection.RETURN,
        carrier_code=carrier_code,
        tracking_no=tracking_no,
        status=TrackingStatus.INFO_RECEIVED,
        label_created_at=now,
        created_at=now,
    )
    session.add(shipment)
    session.flush()
    if carrier_code not in INTERNAL_CARRIERS:
        jobs.enqueue(
            session, SUBSCRIBE, {"shipment_id": shipment.id}, key=f"subscribe:{shipment.id}"
        )
    audit.record(
        session,
        actor,
        "shipment.return_sent",
        subject="shipment",
        subject_id=shipment.id,
        order_id=order_id,
        after={"carrier": carrier_code, "tracking_no": tracking_no},
        at=now,
    )
    return shipment


def _stored_events(session: Session, shipment_id: int) -> list[TrackingEvent]:
    return list(
        session.scalars(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment_id))
    )


def _as_carrier_event(row: TrackingEvent) -> CarrierEvent:
    return CarrierEvent(
        occurred_at=row.occurred_at,
        status=TrackingStatus(row.status),
        description=row.description,
        raw_code=row.raw_code,
        location=row.location,
    )


def _merge(
    session: Session,
    shipment: Shipment,
    events: list[CarrierEvent],
    source: str,
    full: bool,
    now: datetime,
) -> tuple[int, int, list[TrackingEvent]]:
    stored = _stored_events(session, shipment.id)
    by_key = {row.dedupe_key: row for row in stored}
    incoming = {dedupe_key(shipment.carrier_code, shipment.tracking_no, e): e for e in events}
    removed = 0
    if full:
        # A full-history push is the carrier's whole truth up to its newest event: what it
        # no longer lists goes. A late, older snapshot must not retract what came after it,
        # and an event from the future does not make a snapshot newer than it is.
        newest = max(
            (e.occurred_at for e in events if not is_future_dated(e.occurred_at, now)),
            default=None,
        )
        stale = [
            key
            for key, row in by_key.items()
            if key not in incoming
            and row.source == source
            and newest is not None
            and row.occurred_at <= newest
        ]
        if stale:
            session.execute(
                delete(TrackingEvent).where(
                    TrackingEvent.shipment_id == shipment.id, TrackingEvent.dedupe_key.in_(stale)
                )
            )
            removed = len(stale)
            for key in stale:
                del by_key[key]
    added = 0
    for key, event in incoming.items():
        if key in by_key:
            continue
        row = TrackingEvent(
            shipment_id=shipment.id,
            occurred_at=event.occurred_at,
            status=event.status,
            raw_code=event.raw_code,
            description=event.description[:500],
            location=(event.location or None) and event.location[:100],
            source=source,
            dedupe_key=key,
            received_at=now,
            future_dated=is_future_dated(event.occurred_at, now),
        )
        session.add(row)
        by_key[key] = row
        added += 1
    return added, removed, list(by_key.values())


CARRIER_HAS_IT = frozenset(
    {
        TrackingStatus.PICKED_UP,
        TrackingStatus.IN_TRANSIT,
        TrackingStatus.CUSTOMS,
        TrackingStatus.OUT_FOR_DELIVERY,
        TrackingStatus.AVAILABLE_FOR_PICKUP,
        TrackingStatus.FAILED_ATTEMPT,
        TrackingStatus.DELIVERED,
    }
)


def _ship_at_pickup(session: Session, shipment: Shipment, actor: Actor, at: datetime) -> None:
    """A label printed before packing becomes a shipment when the carrier first scans it."""
    order = session.get(Order, shipment.order_id, with_for_update=True)
    if order is None or shipment.shipped_at is not None or shipment.voided_at is not None:
        return
    status = OrderStatus(order.status)
    if can(status, OrderAction.SHIP) or can(status, OrderAction.SHIP_PART):
        ship_parcel(session, order, shipment, actor, at)


def _deliver_order(session: Session, order_id: int, actor: Actor, at: datetime) -> None:
    """Delivered when every parcel that left is, and nothing is left to send."""
    order = session.get(Order, order_id, with_for_update=True)
    if order is not None:
        parcels.follow_parcels(session, order, actor, at)


def apply_carrier_events(
    session: Session,
    shipment: Shipment,
    events: list[CarrierEvent],
    *,
    source: str,
    full_history: bool,
    actor: Actor,
) -> TrackingUpdate:
    """Merge events into a locked shipment inside the caller's transaction."""
    now = utcnow()
    before = TrackingStatus(shipment.status)
    added, removed, rows = _merge(session, shipment, events, source, full_history, now)
    timeline = [_as_carrier_event(row) for row in rows if not row.future_dated]
    after = fold_status(timeline) if timeline else before
    shipment.last_synced_at = now
    if timeline:
        shipment.last_event_at = max(e.occurred_at for e in timeline)
        shipment.picked_up_at = first_time(
            timeline, frozenset({TrackingStatus.PICKED_UP, TrackingStatus.IN_TRANSIT})
        )
    latest = max(timeline, key=lambda e: e.occurred_at) if timeline else None
    raw_before = shipment.raw_status
    shipment.raw_status = latest.raw_code if latest else shipment.raw_status
    if after != before:
        shipment.status = after
        event = NOTIFY_ON.get(after)
        outbound = shipment.direction == ShipmentDirection.OUTBOUND
        if event is not None and outbound and latest is not None and is_news(latest.occurred_at):
            outbox.notify(
                session,
                shipment.order_id,
                event,
                shipment_id=shipment.id,
                details=_notice_details(shipment),
            )
        audit.record(
            session,
            actor,
            "shipment.status_changed",
            subject="shipment",
            subject_id=shipment.id,
            order_id=shipment.order_id,
            before={"status": str(before)},
            after={"status": str(after)},
        )
    handed_over = after in CARRIER_HAS_IT and before not in CARRIER_HAS_IT
    if handed_over and shipment.direction == ShipmentDirection.OUTBOUND:
        _ship_at_pickup(session, shipment, actor, shipment.picked_up_at or now)
    if after != before and shipment.direction == ShipmentDirection.RETURN:
        # Whoever waits for returned goods (refunds) hears of it without logistics knowing them.
        jobs.enqueue(
            session,
            RETURN_PARCEL_MOVED,
            {"shipment_id": shipment.id, "status": str(after)},
            key=f"return-moved:{shipment.id}:{after}",
        )
    if shipment.direction == ShipmentDirection.OUTBOUND:
        _tell_if_turned_back(session, shipment, before, after, raw_before)
    if after == TrackingStatus.DELIVERED and shipment.delivered_at is None:
        shipment.delivered_at = first_time(timeline, frozenset({TrackingStatus.DELIVERED}))
        if shipment.direction == ShipmentDirection.OUTBOUND:
            _deliver_order(session, shipment.order_id, actor, shipment.delivered_at or now)
    return TrackingUpdate(shipment.id, shipment.order_id, added, removed, before, after)


# An outbound parcel that comes back, is refused or arrives ends a refund asked while it was
# on the road (backend/refunds/in_transit.py), which logistics does not know.
TURNED_BACK = frozenset(
    {TrackingStatus.RETURNING, TrackingStatus.RETURNED, TrackingStatus.DELIVERED}
)


def is_refused(shipment: Shipment) -> bool:
    return shipment.status == TrackingStatus.EXCEPTION and shipment.raw_status in REFUSED_CODES


def _tell_if_turned_back(
    session: Session,
    shipment: Shipment,
    before: TrackingStatus,
    after: TrackingStatus,
    raw_before: str | None,
) -> None:
    moved = after != before and after in TURNED_BACK
    refused = is_refused(shipment) and (after != before or shipment.raw_status != raw_before)
    if moved or refused:
        word = "refused" if refused else str(after)
        jobs.enqueue(
            session,
            OUTBOUND_PARCEL_TURNED,
            {"shipment_id": shipment.id, "status": word},
            key=f"outbound-turned:{shipment.id}:{word}",
        )


def record_tracking_update(
    database: Database,
    carrier_code: str,
    tracking_no: str,
    events: list[CarrierEvent],
    *,
    source: str,
    full_history: bool,
    actor: Actor,
) -> TrackingUpdate:
    """One carrier update, one transaction: the same update twice changes nothing."""
    with database.write() as session:
        shipment = session.scalars(
            select(Shipment)
            .where(Shipment.carrier_code == carrier_code, Shipment.tracking_no == tracking_no)
            .with_for_update()
        ).first()
        if shipment is None:
            raise ShipmentNotFound(f"{carrier_code}:{tracking_no}")
        return apply_carrier_events(
            session, shipment, events, source=source, full_history=full_history, actor=actor
        )
