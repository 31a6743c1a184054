"""Telling the sales channel a parcel shipped (发货回传): the durable job, its record, the queue.

A waybill recorded for an outbound shipment enqueues `channel.confirm_shipment` in the
same transaction (record_waybill); the handler makes the shipment's record on its first
run. The handler is safe to run twice: a confirmed
or refused shipment is never sent again by the job, and the idempotency key is stored
before the first call. A refusal waits for staff on /admin/confirmations, who retry it
once the cause is fixed; an unreachable platform is retried by the worker with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.fulfilment.models import ConfirmationStatus, ShipConfirmationRecord
from backend.fulfilment.waybills import CONFIRM_SHIPMENT
from backend.logistics import parcels
from backend.logistics.models import Shipment, ShipmentDirection
from backend.orders.channels.ship_confirm.base import (
    ChannelUnavailable,
    ConfirmationAccepted,
    ConfirmationRefused,
    Parcel,
    ShipConfirmation,
    ShippedLine,
)
from backend.orders.channels.ship_confirm.registry import PLATFORMS, ShipConfirmers
from backend.orders.models import Order, OrderLine, Shop
from backend.orders.shops import ShopDirectory
from backend.staff.permissions import Permission, check_permission

__all__ = ["CONFIRM_SHIPMENT", "confirm_shipment", "list_confirmation_queue", "retry_confirmation"]
# Platforms that keep one waybill per order: a later parcel of the same order is not sent.
ONE_WAYBILL_PER_ORDER = frozenset({"pinduoduo", "jd"})
# Kuaidi100's public tracking page, given to Shopify as the tracking url.
TRACKING_URL = "https://www.kuaidi100.com/chaxun?com={carrier}&nu={number}"
WORKER = Actor(ActorKind.SYSTEM, "ship-confirmation", channel="worker")
DONE = (ConfirmationStatus.CONFIRMED, ConfirmationStatus.SKIPPED)


class ConfirmationNotRetryable(Exception):
    """No such confirmation, or it is not refused (confirmed or retried meanwhile)."""


def _record(session: Session, shipment: Shipment, order: Order) -> ShipConfirmationRecord:
    record = session.scalars(
        select(ShipConfirmationRecord)
        .where(ShipConfirmationRecord.shipment_id == shipment.id)
        .with_for_update()
    ).first()
    if record is None:
        record = ShipConfirmationRecord(
            shipment_id=shipment.id,
            order_id=order.id,
            shop_id=order.shop_id,
            platform=order.channel,
            status=ConfirmationStatus.PENDING,
            idempotency_key=f"ship-{order.id}-{shipment.id}",
        )
        session.add(record)
        session.flush()
    return record


def _contents(session: Session, order: Order, shipment: Shipment) -> tuple[Parcel, bool]:
    """The shipment as a parcel of channel lines, and whether it carries the whole order."""
    ordered = parcels.ordered_quantities(session, order.id)
    contents = parcels.parcel_contents(session, [shipment], ordered)[shipment.id]
    rows = session.scalars(
        select(OrderLine).where(OrderLine.id.in_(contents)).order_by(OrderLine.id)
    ).all()
    lines = tuple(ShippedLine(row.channel_line_id, row.sku, contents[row.id]) for row in rows)
    alone = [p.id for p in parcels.outbound_parcels(session, order.id)] == [shipment.id]
    parcel = Parcel(shipment.carrier_code, shipment.tracking_no, lines)
    return parcel, alone and contents == ordered


def _earlier_confirmed(session: Session, record: ShipConfirmationRecord) -> bool:
    return (
        session.scalar(
            select(ShipConfirmationRecord.id).where(
                ShipConfirmationRecord.order_id == record.order_id,
                ShipConfirmationRecord.id != record.id,
                ShipConfirmationRecord.status == ConfirmationStatus.CONFIRMED,
            )
        )
        is not None
    )


@dataclass(frozen=True)
class _Plan:
    record_id: int
    confirmation: ShipConfirmation | None  # None: nothing to send
    outcome: tuple[ConfirmationStatus, str, str] | None = None  # decided without a call


def _plan(session: Session, shipment: Shipment, shops: ShopDirectory) -> _Plan | None:
    order = session.get(Order, shipment.order_id)
    assert order is not None
    record = _record(session, shipment, order)
    if record.status in DONE or record.status == ConfirmationStatus.REFUSED:
        return None  # a repeat: done, or waiting for staff
    platform = str(order.channel)
    shop_row = session.get(Shop, order.shop_id) if order.shop_id else None
    shop = shops.get(shop_row.code) if shop_row else shops.default_for(platform)
    earlier = _earlier_confirmed(session, record)
    if shipment.voided_at is not None:
        return _Plan(record.id, None, (ConfirmationStatus.SKIPPED, "voided", "label voided"))
    if platform not in PLATFORMS:
        return _Plan(record.id, None, (ConfirmationStatus.SKIPPED, "no_channel_api", platform))
    if earlier and platform in ONE_WAYBILL_PER_ORDER:
        note = "the platform keeps one waybill per order; the first is confirmed"
        return _Plan(record.id, None, (ConfirmationStatus.SKIPPED, "one_waybill", note))
    if shop is None or not shop.can_call_api:
        note = "the shop has no API credentials or base URL in the shops file"
        return _Plan(record.id, None, (ConfirmationStatus.REFUSED, "shop_not_configured", note))
    record.attempts += 1
    parcel, whole = _contents(session, order, shipment)
    confirmation = ShipConfirmation(
        shop=shop,
        channel_order_no=order.channel_order_no,
        parcels=(parcel,),
        whole_order=whole,
        idempotency_key=record.idempotency_key,
        first_for_order=not earlier,
        tracking_url=TRACKING_URL.format(carrier=parcel.carrier_code, number=parcel.waybill_no),
    )
    return _Plan(record.id, confirmation)


def _settle(
    database: Database,
    record_id: int,
    status: ConfirmationStatus,
    code: str,
    message: str,
) -> None:
    with database.write() as session:
        record = session.get(ShipConfirmationRecord, record_id, with_for_update=True)
        assert record is not None
        before = {"status": str(record.status), "code": record.last_code}
        record.status, record.last_code, record.last_message = status, code[:80], message[:500]
        if status == ConfirmationStatus.CONFIRMED:
            record.confirmed_at = utcnow()
        if status != ConfirmationStatus.RETRYING:
            audit.record(
                session,
                WORKER,
                f"shipment.channel_{status}",
                subject="ship_confirmation",
                subject_id=record.id,
                order_id=record.order_id,
                before=before,
                after={"status": str(status), "code": code, "message": message[:200]},
            )


def confirm_shipment(
    database: Database, confirmers: ShipConfirmers, shops: ShopDirectory, payload: dict[str, Any]
) -> None:
    """Job handler. Raises ChannelUnavailable (the worker retries with backoff)."""
    shipment_id = int(payload["shipment_id"])
    with database.write() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None or shipment.direction != ShipmentDirection.OUTBOUND:
            return
        plan = _plan(session, shipment, shops)
    if plan is None:
        return
    if plan.confirmation is None:
        assert plan.outcome is not None
        _settle(database, plan.record_id, *plan.outcome)
        return
    confirmer = confirmers.for_shop(plan.confirmation.shop)
    assert confirmer is not None  # every platform in PLATFORMS has one
    try:
        accepted: ConfirmationAccepted = confirmer.confirm(plan.confirmation)
    except ConfirmationRefused as refused:
        _settle(database, plan.record_id, ConfirmationStatus.REFUSED, refused.code, refused.message)
        return
    except ChannelUnavailable as down:
        _settle(database, plan.record_id, ConfirmationStatus.RETRYING, "unavailable", down.reason)
        raise
    note = "already shipped with this waybill" if accepted.already_shipped else ""
    _settle(database, plan.record_id, ConfirmationStatus.CONFIRMED, accepted.reference, note)


def retry_confirmation(database: Database, record_id: int, actor: Actor) -> None:
    """A refused confirmation back to pending, with a new job; audited."""
    check_permission(actor, Permission.CONFIRM_SHIPMENTS, also={ActorKind.SYSTEM})
    with database.write() as session:
        record = session.get(ShipConfirmationRecord, record_id, with_for_update=True)
        if record is None or record.status != ConfirmationStatus.REFUSED:
            raise ConfirmationNotRetryable(record_id)
        before = {"status": str(record.status), "code": record.last_code}
        record.status = ConfirmationStatus.PENDING
        jobs.enqueue(session, CONFIRM_SHIPMENT, {"shipment_id": record.shipment_id})
        audit.record(
            session,
            actor,
            "shipment.channel_confirmation_retried",
            subject="ship_confirmation",
            subject_id=record.id,
            order_id=record.order_id,
            before=before,
            after={"status": str(ConfirmationStatus.PENDING)},
        )


@dataclass(frozen=True)
class QueuedConfirmation:
    id: int
    order_id: int
    order_no: str
    channel_order_no: str
    shop: str
    platform: str
    status: ConfirmationStatus
    attempts: int
    code: str
    message: str
    carrier_code: str
    tracking_no: str
    updated_at: datetime

    @property
    def can_retry(self) -> bool:
        return self.status == ConfirmationStatus.REFUSED


WAITING = (ConfirmationStatus.REFUSED, ConfirmationStatus.RETRYING)


def list_confirmation_queue(database: Database, limit: int = 200) -> Sequence[QueuedConfirmation]:
    """Refused (waiting for staff) and retrying confirmations, refused first, newest first."""
    with database.read() as session:
        rows = session.execute(
            select(ShipConfirmationRecord, Order, Shipment, Shop.name)
            .join(Order, Order.id == ShipConfirmationRecord.order_id)
            .join(Shipment, Shipment.id == ShipConfirmationRecord.shipment_id)
            .outerjoin(Shop, Shop.id == ShipConfirmationRecord.shop_id)
            .where(ShipConfirmationRecord.status.in_(WAITING))
            .order_by(ShipConfirmationRecord.updated_at.desc(), ShipConfirmationRecord.id.desc())
            .limit(limit)
        ).all()
        items = [
            QueuedConfirmation(
                record.id,
                order.id,
                order.public_no,
                order.channel_order_no,
                shop_name or "",
                str(record.platform),
                record.status,
                record.attempts,
                record.last_code or "",
                record.last_message or "",
                shipment.carrier_code,
                shipment.tracking_no,
                record.updated_at,
            )
            for record, order, shipment, shop_name in rows
        ]
    return sorted(items, key=lambda item: item.status != ConfirmationStatus.REFUSED)
