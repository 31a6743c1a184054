"""Parcels a sales channel says the platform or a 3PL shipped, recorded after intake stored
the order (job `fulfilment.channel_parcels`, queued by backend/orders/intake.py)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from backend import audit
from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.fulfilment.outside import REFUSED, OutsideParcel, record_outside_parcel
from backend.fulfilment.waybills import WaybillSource
from backend.orders.intake import CHANNEL_PARCELS
from backend.orders.models import Order

log = logging.getLogger(__name__)

__all__ = ["CHANNEL_PARCELS", "record_channel_parcels"]


def record_channel_parcels(database: Database, payload: dict[str, Any]) -> None:
    """Job handler; safe twice: a waybill already on the order is a repeat, nothing changes.

    A refusal (the order on hold, cancelled, the waybill on another order) is final for
    that parcel: it is audited for staff to see, never retried into the same answer.
    """
    order_id, channel = int(payload["order_id"]), str(payload["channel"])
    with database.read() as session:
        public_no = session.scalar(select(Order.public_no).where(Order.id == order_id))
    if public_no is None:
        return
    actor = Actor(ActorKind.CHANNEL, channel, channel="worker")
    for parcel in payload.get("parcels") or []:
        lines = tuple((str(sku), int(quantity)) for sku, quantity in parcel.get("lines") or [])
        outside = OutsideParcel(
            public_no, str(parcel["carrier"]), str(parcel["tracking_no"]), lines
        )
        result = record_outside_parcel(database, outside, actor, WaybillSource.CHANNEL)
        if result.outcome == REFUSED:
            log.info("channel parcel %s refused: %s", result.waybill, result.reason)
            with database.write() as session:
                audit.record(
                    session,
                    actor,
                    "channel.parcel_refused",
                    subject="order",
                    subject_id=order_id,
                    order_id=order_id,
                    after={
                        "carrier": parcel["carrier"],
                        "tracking_no": parcel["tracking_no"],
                        "reason": result.reason,
                    },
                )
