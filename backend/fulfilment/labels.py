"""A booked label after the booking: open its PDF, print it again, or void it at the carrier.

Each talks to the carrier first, outside any transaction, and writes only what the
carrier agreed to. A void is refused once the carrier has the parcel; an order closed
after its labels were booked voids them from a durable job (`void_closed_order_parcels`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.fulfilment.packing import PackRefusal, PackRefused, is_collected, stored_waybill
from backend.logistics.models import ParcelLabel, Shipment
from backend.logistics.waybills.base import BookedWaybill, CarrierRejected
from backend.logistics.waybills.registry import WaybillBookers
from backend.staff.permissions import Permission, check_permission

log = logging.getLogger(__name__)


class LabelNotFound(LookupError):
    """No label is kept for that parcel (not booked here, or it went to a cloud printer)."""


def _load(database: Database, shipment_id: int) -> tuple[BookedWaybill, bool, bool, int]:
    """(the waybill, voided, collected, order id) of a parcel booked here."""
    with database.read() as session:
        shipment = session.get(Shipment, shipment_id)
        label = session.get(ParcelLabel, shipment_id)
        if shipment is None:
            raise LabelNotFound(shipment_id)
        if label is None:
            raise PackRefused(PackRefusal.NOT_BOOKED)
        return (
            stored_waybill(shipment, label),
            shipment.voided_at is not None,
            is_collected(shipment),
            shipment.order_id,
        )


def get_label_pdf(
    database: Database, bookers: WaybillBookers, shipment_id: int, actor: Actor
) -> bytes:
    """The label PDF; a label the carrier only linked to is fetched once and kept."""
    check_permission(actor, Permission.SCAN_PARCELS)
    try:
        waybill, voided, _collected, _order = _load(database, shipment_id)
    except PackRefused:
        raise LabelNotFound(shipment_id) from None
    if waybill.label.pdf is not None:
        return waybill.label.pdf
    if voided or waybill.label.printed or not waybill.label.url:
        raise LabelNotFound(shipment_id)
    pdf = bookers.for_carrier(waybill.carrier_code).reprint(waybill).pdf
    if pdf is None:
        raise LabelNotFound(shipment_id)
    with database.write() as session:
        label = session.get(ParcelLabel, shipment_id, with_for_update=True)
        if label is not None and label.pdf is None:
            label.pdf = pdf
    return pdf


@dataclass(frozen=True)
class Reprinted:
    shipment_id: int
    printed: bool  # True: a new print task on the cloud printer; False: a fresh PDF
    print_task_id: str | None


def reprint_label(
    database: Database, bookers: WaybillBookers, shipment_id: int, actor: Actor
) -> Reprinted:
    """The label again through the carrier: a new cloud print task, or the PDF fetched anew."""
    check_permission(actor, Permission.SCAN_PARCELS)
    waybill, voided, _collected, order_id = _load(database, shipment_id)
    if voided:
        raise PackRefused(PackRefusal.VOIDED)
    label = bookers.for_carrier(waybill.carrier_code).reprint(waybill)
    now = utcnow()
    with database.write() as session:
        shipment = session.get(Shipment, shipment_id, with_for_update=True)
        stored = session.get(ParcelLabel, shipment_id)
        assert shipment is not None and stored is not None
        shipment.label_reprinted_at = now
        if label.pdf is not None:
            stored.pdf = label.pdf
        audit.record(
            session,
            actor,
            "shipment.label_reprinted",
            subject="shipment",
            subject_id=shipment_id,
            order_id=order_id,
            at=now,
            after={"printed": label.printed, "print_task_id": label.print_task_id},
        )
    return Reprinted(shipment_id, label.printed, label.print_task_id)


def void_label(
    database: Database,
    bookers: WaybillBookers,
    shipment_id: int,
    actor: Actor,
    reason: str = "",
    *,
    permission: Permission = Permission.SCAN_PARCELS,
) -> bool:
    """Cancel a booked waybill at the carrier; its lines can be packed again.

    False when it was voided already. PackRefused(COLLECTED) once the carrier has the
    parcel; CarrierRejected carries the carrier's own refusal (it may know of a pickup
    we have not heard of yet).
    """
    check_permission(actor, permission, also=(ActorKind.SYSTEM,))
    waybill, voided, collected, order_id = _load(database, shipment_id)
    if voided:
        return False
    if collected:
        raise PackRefused(PackRefusal.COLLECTED)
    bookers.for_carrier(waybill.carrier_code).cancel(waybill.ref, reason or "作废面单")
    now = utcnow()
    with database.write() as session:
        shipment = session.get(Shipment, shipment_id, with_for_update=True)
        assert shipment is not None
        if shipment.voided_at is not None:
            return False
        shipment.voided_at = now
        audit.record(
            session,
            actor,
            "shipment.voided",
            subject="shipment",
            subject_id=shipment_id,
            order_id=order_id,
            at=now,
            after={"carrier": waybill.carrier_code, "tracking_no": waybill.tracking_no},
        )
    return True


def void_closed_order_parcels(
    database: Database, bookers: WaybillBookers, payload: dict[str, Any]
) -> list[int]:
    """Job: the order was cancelled or refunded by its channel; give back every label booked
    here that no carrier has collected. Safe to run twice (a voided label is skipped)."""
    order_id = int(payload["order_id"])
    with database.read() as session:
        candidates = list(
            session.scalars(
                select(Shipment)
                .join(ParcelLabel, ParcelLabel.shipment_id == Shipment.id)
                .where(Shipment.order_id == order_id, Shipment.voided_at.is_(None))
                .order_by(Shipment.id)
            )
        )
        open_ids = [s.id for s in candidates if not is_collected(s)]
    voided = []
    for shipment_id in open_ids:
        try:
            if void_label(database, bookers, shipment_id, Actor.system(), "订单已取消"):
                voided.append(shipment_id)
        except (PackRefused, CarrierRejected) as refused:
            # Collected after all: the parcel travels; the return is the after-sale team's.
            log.warning("label of shipment %s not voided: %s", shipment_id, refused)
    return voided


def order_of_shipment(database: Database, shipment_id: int) -> int | None:
    with database.read() as session:
        return session.scalar(select(Shipment.order_id).where(Shipment.id == shipment_id))


def list_live_labels(database: Database, order_id: int) -> frozenset[int]:
    """Shipments of the order with a label booked here and not voided: they may be reprinted."""
    with database.read() as session:
        return frozenset(
            session.scalars(
                select(Shipment.id)
                .join(ParcelLabel, ParcelLabel.shipment_id == Shipment.id)
                .where(Shipment.order_id == order_id, Shipment.voided_at.is_(None))
            )
        )
