"""The customer's refund-in-transit page as frozen rows: each parcel, and what may be asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from backend.db import Database
from backend.logistics import parcels
from backend.logistics.status import TrackingStatus
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.refunds.in_transit import parcel_amounts, why_not
from backend.refunds.in_transit_lifecycle import InTransitMethod, InTransitStatus
from backend.refunds.models import InTransitRefund, Refund, RefundState
from backend.refunds.rules import RefundRules


@dataclass(frozen=True)
class InTransitRequestView:
    id: int
    method: InTransitMethod
    status: InTransitStatus
    reason: str
    amount_fen: int
    checks: tuple[dict[str, Any], ...]
    refund_status: RefundState | None
    reject_reason: str | None


@dataclass(frozen=True)
class ParcelChoice:
    shipment_id: int
    carrier_code: str  # the page names it in its own language (carrier_label)
    tracking_no: str
    tracking_status: TrackingStatus
    amount_fen: int
    refusal: str | None  # why_not's code; None: may be asked for now
    request: InTransitRequestView | None


@dataclass(frozen=True)
class InTransitPage:
    parcels: tuple[ParcelChoice, ...]
    reasons: tuple[tuple[str, str], ...]  # (code, Chinese label) the customer may pick

    @property
    def can_ask(self) -> bool:
        return any(parcel.refusal is None for parcel in self.parcels)


def reason_choices(rules: RefundRules) -> tuple[tuple[str, str], ...]:
    """Reasons that need no photos: nothing has arrived to photograph."""
    return tuple((r.code, r.label_zh) for r in rules.reasons if not r.requires_photos)


def get_in_transit_page(database: Database, order_id: int, rules: RefundRules) -> InTransitPage:
    with database.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        road = parcels.outbound_parcels(session, order_id)
        amounts = parcel_amounts(session, order, road)
        rows = session.execute(
            select(InTransitRefund, Refund.status)
            .outerjoin(Refund, Refund.id == InTransitRefund.refund_id)
            .where(InTransitRefund.order_id == order_id)
        ).all()
        requests = {
            request.shipment_id: InTransitRequestView(
                request.id,
                InTransitMethod(request.method),
                InTransitStatus(request.status),
                request.reason,
                request.amount_fen,
                tuple(request.checks),
                RefundState(refund_status) if refund_status else None,
                request.reject_reason,
            )
            for request, refund_status in rows
        }
        status = OrderStatus(order.status)
        choices = tuple(
            ParcelChoice(
                shipment.id,
                shipment.carrier_code,
                shipment.tracking_no,
                TrackingStatus(shipment.status),
                amounts.get(shipment.id, 0),
                why_not(status, shipment, shipment.id in requests),
                requests.get(shipment.id),
            )
            for shipment in road
        )
    return InTransitPage(choices, reason_choices(rules))
