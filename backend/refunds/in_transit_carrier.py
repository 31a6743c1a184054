"""The carrier's side of a refund in transit: ask for the intercept, hear the parcel turn back.

Both are jobs, safe to run twice: the intercept is asked while the request waits for it
and never again once the carrier answered; a repeated tracking push finds the request
already moved and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from backend import audit, jobs
from backend.actors import Actor
from backend.db import Database
from backend.logistics.carriers.base import CarrierRejected, CircuitOpen
from backend.logistics.models import Shipment
from backend.logistics.tracking_jobs import TrackingClients
from backend.orders.models import Order
from backend.refunds.in_transit import move, release_or_review
from backend.refunds.in_transit_lifecycle import InTransitAction, InTransitStatus, can
from backend.refunds.models import InTransitRefund
from backend.refunds.rules import RefundRules

CARRIER = Actor.system("carrier")
# What the tracking job reports (logistics.service._tell_if_turned_back) -> our action.
ACTION_FOR = {
    "returning": InTransitAction.PARCEL_RETURNING,
    "returned": InTransitAction.PARCEL_RETURNING,
    "refused": InTransitAction.PARCEL_REFUSED,
    "delivered": InTransitAction.PARCEL_DELIVERED,
}
COMING_BACK = frozenset({InTransitStatus.RETURNING, InTransitStatus.REFUSED})


def ask_carrier(database: Database, clients: TrackingClients, payload: dict[str, Any]) -> None:
    """Job: Kuaidi100 interceptOrder RETURN_SEND_ADDR; a refusal goes to the staff queue."""
    with database.read() as session:
        request = session.get(InTransitRefund, payload["request_id"])
        if request is None or request.status != InTransitStatus.INTERCEPT_ASKED:
            return
        if request.carrier_note:
            return  # the carrier accepted it already; its outcome comes by tracking
        shipment = session.get(Shipment, request.shipment_id)
        public_no = session.scalar(select(Order.public_no).where(Order.id == request.order_id))
    assert shipment is not None
    if clients.kuaidi100 is None:
        _answer(database, request.id, "refused", "未配置快递100账号，请电话联系承运商")
        return
    try:
        receipt = clients.kuaidi100.request_return_to_sender(
            shipment.carrier_code,
            shipment.tracking_no,
            callback_url=clients.callback_url + "/intercept",
            reason="客户申请仅退款，拦截退回",
            order_reference=public_no,
        )
    except CircuitOpen as error:
        raise jobs.RetryLater(timedelta(seconds=max(error.retry_after, 1)), str(error)) from error
    except CarrierRejected as error:
        _answer(database, request.id, "refused", f"{error.code or ''} {error.message}".strip())
        return
    _answer(database, request.id, "accepted", f"受理 {receipt.reference or ''}".strip())


def _answer(database: Database, request_id: int, outcome: str, note: str) -> None:
    with database.write() as session:
        request = session.get(InTransitRefund, request_id, with_for_update=True)
        if request is None or request.status != InTransitStatus.INTERCEPT_ASKED:
            return
        request.carrier_note = note[:200]
        if outcome == "refused":
            move(session, request, InTransitAction.CARRIER_REFUSED, CARRIER, note=note[:200])
        else:
            audit.record(
                session,
                CARRIER,
                "in_transit_refund.intercept_accepted",
                subject="in_transit_refund",
                subject_id=request.id,
                order_id=request.order_id,
                after={"note": note[:200]},
            )


def on_parcel_turned(database: Database, payload: dict[str, Any], rules: RefundRules) -> None:
    """Job (OUTBOUND_PARCEL_TURNED): returning or refused releases the refund, once."""
    action = ACTION_FOR.get(payload["status"])
    with database.read() as session:
        found = session.execute(
            select(InTransitRefund.id, InTransitRefund.order_id).where(
                InTransitRefund.shipment_id == payload["shipment_id"]
            )
        ).first()
    if found is None or action is None:
        return
    request_id, order_id = found
    with database.write() as session:
        order = session.get(Order, order_id, with_for_update=True)
        request = session.get(InTransitRefund, request_id, with_for_update=True)
        assert order is not None and request is not None
        if not can(InTransitStatus(request.status), action):
            return  # moved already (a repeated push), or too late to matter
        move(session, request, action, CARRIER)
        if request.status in COMING_BACK:
            release_or_review(session, order, request, rules, CARRIER)
