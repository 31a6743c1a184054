"""Correct a waybill typed by hand or pushed by an ERP: a typo in the carrier or the number.

Only while the carrier has said nothing about the parcel (no tracking event, no pickup):
after that the number is evidently real, and changing it would hide the parcel's history.
A waybill booked here (电子面单) is never corrected: the carrier printed that label, so it
is voided and booked again instead.

The shipment keeps its id and contents; its carrier and number change, its tracking goes
back to "label created" and the new number is subscribed at Kuaidi100 (a new job key per
correction). Pushes for the old number then match no shipment and are ignored.

The sales channel: a confirmation not yet sent (pending, retrying, refused) reads the
shipment when it runs, so it sends the corrected number by itself. One already accepted
by the channel is not sent again — platforms take a ship confirmation once per parcel and
change a waybill only in their own seller console — so the correction says so
(`channel_told`) and the order page asks staff to fix it there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select

from backend import audit, jobs
from backend.actors import Actor
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.db import Database
from backend.fulfilment.models import ConfirmationStatus, ShipConfirmationRecord
from backend.fulfilment.waybills import Refusal, WaybillRefused, WaybillSource, _carrier_for
from backend.logistics.carriers.recognition import normalize_number
from backend.logistics.models import Shipment, ShipmentDirection, TrackingEvent
from backend.logistics.service import INTERNAL_CARRIERS, SUBSCRIBE
from backend.logistics.status import TrackingStatus
from backend.staff.permissions import Permission, check_permission

CORRECTABLE_SOURCES = frozenset({WaybillSource.MANUAL, WaybillSource.IMPORT, WaybillSource.ERP})


class CorrectionRefusal(StrEnum):
    NO_SUCH_PARCEL = "no_such_parcel"  # not an outbound parcel of this order
    BOOKED_HERE = "booked_here"  # an 电子面单: void and book again
    VOIDED = "voided"
    CARRIER_HAS_IT = "carrier_has_it"  # tracking events or a pickup exist


class CorrectionRefused(Exception):
    def __init__(self, reason: CorrectionRefusal) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True)
class WaybillCorrected:
    shipment_id: int
    changed: bool  # False: the same carrier and number again, nothing done
    channel_told: bool  # the channel accepted the old number: fix it in its console


def correct_waybill(
    database: Database,
    order_id: int,
    shipment_id: int,
    carrier_code: str,
    tracking_no: str,
    actor: Actor,
) -> WaybillCorrected:
    check_permission(actor, Permission.RECORD_WAYBILLS)
    number = normalize_number(tracking_no)
    # The same checks as a new waybill: a real number, of that carrier.
    carrier = _carrier_for(carrier_code.strip().lower(), number)
    with database.write() as session:
        shipment = session.get(Shipment, shipment_id, with_for_update=True)
        if (
            shipment is None
            or shipment.order_id != order_id
            or shipment.direction != ShipmentDirection.OUTBOUND
        ):
            raise CorrectionRefused(CorrectionRefusal.NO_SUCH_PARCEL)
        record = session.scalars(
            select(ShipConfirmationRecord).where(ShipConfirmationRecord.shipment_id == shipment.id)
        ).first()
        told = record is not None and record.status == ConfirmationStatus.CONFIRMED
        if (shipment.carrier_code, shipment.tracking_no) == (carrier, number):
            return WaybillCorrected(shipment.id, changed=False, channel_told=told)
        if shipment.source not in CORRECTABLE_SOURCES:
            raise CorrectionRefused(CorrectionRefusal.BOOKED_HERE)
        if shipment.voided_at is not None:
            raise CorrectionRefused(CorrectionRefusal.VOIDED)
        events = session.scalar(
            select(func.count())
            .select_from(TrackingEvent)
            .where(TrackingEvent.shipment_id == shipment.id)
        )
        if events or shipment.picked_up_at is not None or shipment.last_event_at is not None:
            raise CorrectionRefused(CorrectionRefusal.CARRIER_HAS_IT)
        taken = session.scalar(
            select(Shipment.order_id).where(
                Shipment.carrier_code == carrier, Shipment.tracking_no == number
            )
        )
        if taken is not None:
            raise WaybillRefused(Refusal.USED_ON_ANOTHER_ORDER)
        before = {"carrier": shipment.carrier_code, "tracking_no": shipment.tracking_no}
        shipment.carrier_code, shipment.tracking_no = carrier, number
        shipment.status, shipment.raw_status = TrackingStatus.INFO_RECEIVED, None
        shipment.last_synced_at = None
        session.flush()
        corrections = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.subject == "shipment",
                AuditEvent.subject_id == str(shipment.id),
                AuditEvent.action == "shipment.waybill_corrected",
            )
        )
        if carrier not in INTERNAL_CARRIERS:
            jobs.enqueue(
                session,
                SUBSCRIBE,
                {"shipment_id": shipment.id},
                key=f"subscribe:{shipment.id}:corrected:{int(corrections or 0) + 1}",
            )
        audit.record(
            session,
            actor,
            "shipment.waybill_corrected",
            subject="shipment",
            subject_id=shipment.id,
            order_id=order_id,
            before=before,
            after={"carrier": carrier, "tracking_no": number, "channel_told": told},
            at=utcnow(),
        )
        return WaybillCorrected(shipment.id, changed=True, channel_told=told)


def correctable_shipments(database: Database, order_id: int) -> frozenset[int]:
    """The order's parcels whose waybill may still be corrected (the same rules as above)."""
    heard = select(TrackingEvent.id).where(TrackingEvent.shipment_id == Shipment.id).exists()
    with database.read() as session:
        return frozenset(
            session.scalars(
                select(Shipment.id).where(
                    Shipment.order_id == order_id,
                    Shipment.direction == ShipmentDirection.OUTBOUND,
                    Shipment.source.in_([str(s) for s in CORRECTABLE_SOURCES]),
                    Shipment.voided_at.is_(None),
                    Shipment.picked_up_at.is_(None),
                    Shipment.last_event_at.is_(None),
                    ~heard,
                )
            )
        )
