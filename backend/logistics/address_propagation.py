"""After an address change: tell the old phone, and the carrier if a label already exists."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from backend import audit, jobs
from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.logistics.carriers.base import CarrierRejected, CircuitOpen, Recipient
from backend.logistics.models import Shipment, ShipmentDirection
from backend.logistics.status import TrackingStatus
from backend.logistics.tracking_jobs import TrackingClients
from backend.notifications import outbox
from backend.notifications.models import NotificationEvent
from backend.orders.masking import mask_name
from backend.orders.models import AddressChange, AddressVersion, ChangeStatus, Order

log = logging.getLogger(__name__)

CARRIER_ADDRESS_CHANGE = "logistics.carrier_address_change"
# Until the carrier has the parcel, the label can still be corrected through it.
NOT_YET_PICKED_UP = frozenset({TrackingStatus.PENDING, TrackingStatus.INFO_RECEIVED})
ON_THE_ROAD = frozenset(
    {
        TrackingStatus.PICKED_UP,
        TrackingStatus.IN_TRANSIT,
        TrackingStatus.OUT_FOR_DELIVERY,
        TrackingStatus.FAILED_ATTEMPT,
        TrackingStatus.EXCEPTION,
        TrackingStatus.AVAILABLE_FOR_PICKUP,
    }
)


def handle_address_changed(database: Database, payload: dict[str, Any]) -> None:
    """Job: one per address version (keyed), so each change is told and sent once."""
    with database.write() as session:
        version = session.get(AddressVersion, payload["version_id"])
        if version is None:
            return
        region = f"{version.province}{version.city}{version.district}"
        old_phone = payload.get("old_phone")
        # A change someone else made must reach the phone that was on the order.
        outbox.notify(
            session,
            version.order_id,
            NotificationEvent.ADDRESS_CHANGED,
            details={"region": region, "name": mask_name(version.recipient_name)},
            reference=f"v{version.id}",
            sms_to=old_phone or None,
            urgent=True,
        )
        shipment = session.scalars(
            select(Shipment)
            .where(
                Shipment.order_id == version.order_id,
                Shipment.direction == ShipmentDirection.OUTBOUND,
            )
            .order_by(Shipment.id.desc())
        ).first()
        if shipment is None:
            return
        reachable = NOT_YET_PICKED_UP | (
            ON_THE_ROAD if payload.get("kind") == "intercept" else set()
        )
        if shipment.status in reachable:
            jobs.enqueue(
                session,
                CARRIER_ADDRESS_CHANGE,
                {"shipment_id": shipment.id, "version_id": version.id},
                key=f"carrier-address:{version.id}",
            )


def request_carrier_address_change(
    database: Database, clients: TrackingClients, payload: dict[str, Any]
) -> None:
    """Job: Kuaidi100 interceptOrder with MODIFY_ADDR, through the adapter."""
    with database.read() as session:
        shipment = session.get(Shipment, payload["shipment_id"])
        version = session.get(AddressVersion, payload["version_id"])
        public_no = (
            session.scalar(select(Order.public_no).where(Order.id == version.order_id))
            if version
            else None
        )
    if shipment is None or version is None:
        return
    carrier_actor = Actor(ActorKind.SYSTEM, "carrier-address-change", channel="worker")
    if clients.kuaidi100 is None:
        _note(
            database,
            shipment,
            carrier_actor,
            "shipment.address_change_skipped",
            {"why": "no Kuaidi100 account configured"},
        )
        return
    recipient = Recipient(
        version.recipient_name,
        version.phone,
        f"{version.province}{version.city}{version.district}{version.street}",
    )
    try:
        receipt = clients.kuaidi100.request_address_change(
            shipment.carrier_code,
            shipment.tracking_no,
            recipient,
            callback_url=clients.callback_url + "/intercept",
            reason="客户修改收货地址",
            order_reference=public_no,
        )
    except CircuitOpen as error:
        raise jobs.RetryLater(timedelta(seconds=max(error.retry_after, 1)), str(error)) from error
    except CarrierRejected as error:
        # Refused for good (already signed, outside the carrier's rules): staff see it.
        _note(
            database,
            shipment,
            carrier_actor,
            "shipment.address_change_refused",
            {"code": error.code, "message": error.message},
        )
        return
    _note(
        database,
        shipment,
        carrier_actor,
        "shipment.address_change_requested",
        {"reference": receipt.reference, "message": receipt.message, "version": version.version},
    )


def _note(
    database: Database, shipment: Shipment, actor: Actor, action: str, after: dict[str, Any]
) -> None:
    with database.write() as session:
        audit.record(
            session,
            actor,
            action,
            subject="shipment",
            subject_id=shipment.id,
            order_id=shipment.order_id,
            after=after,
        )


def handle_request_decided(database: Database, payload: dict[str, Any]) -> None:
    """Job: tell the customer what staff decided about their address request."""
    with database.write() as session:
        change = session.get(AddressChange, payload["change_id"])
        if change is None:
            return
        approved = change.status == ChangeStatus.APPLIED
        event = (
            NotificationEvent.ADDRESS_REQUEST_APPROVED
            if approved
            else NotificationEvent.ADDRESS_REQUEST_REJECTED
        )
        outbox.notify(
            session,
            change.order_id,
            event,
            details={"reason": change.reason or ""},
            reference=f"c{change.id}",
        )
