"""Read models for the exchange pages: what may be swapped for what, and both legs of each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.clock import utcnow
from backend.db import Database
from backend.exchanges.lifecycle import ExchangeAction, ExchangeStatus, can
from backend.exchanges.models import Exchange
from backend.exchanges.service import ExchangeNotAllowed, ExchangeNotFound, check_exchangeable
from backend.logistics.models import Shipment, ShipmentDirection
from backend.logistics.status import TrackingStatus
from backend.orders import inventory, stock
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import HoldReason, Order, OrderLine, Sku
from backend.refunds.rules import RefundRules


@dataclass(frozen=True)
class VariantOption:
    sku_id: int
    label: str
    price_fen: int  # what the new variant costs (the paid price when it has no list price)
    difference_fen: int  # refunded once the old unit is back
    in_stock: bool
    dearer: bool

    @property
    def choosable(self) -> bool:
        return self.in_stock and not self.dearer


@dataclass(frozen=True)
class LineOption:
    line_id: int
    name: str
    unit_price_fen: int
    variants: tuple[VariantOption, ...]


@dataclass(frozen=True)
class ExchangeForm:
    refused: str | None  # "not_delivered", "window_closed" or None
    lines: tuple[LineOption, ...]  # lines not exchanged yet that have other variants


@dataclass(frozen=True)
class ParcelLeg:
    carrier_code: str
    tracking_no: str
    status: TrackingStatus


@dataclass(frozen=True)
class ExchangeView:
    id: int
    status: ExchangeStatus
    from_name: str
    to_name: str
    difference_fen: int
    refunded_fen: int
    trusted: bool
    expires_at: datetime
    can_send_back: bool
    can_cancel: bool
    return_parcel: ParcelLeg | None
    replacement_no: str
    replacement_status: OrderStatus
    replacement_held: bool
    replacement_parcels: tuple[ParcelLeg, ...]


def _label(sku: Sku) -> str:
    return sku.variant_label or sku.name


def _free(session: Session, sku_ids: list[int]) -> dict[int, int]:
    free: dict[int, int] = {}
    for (_warehouse, sku_id), units in stock.free_stock(session, sku_ids).items():
        free[sku_id] = free.get(sku_id, 0) + max(units, 0)
    return free


def _line_option(session: Session, order: Order, line: OrderLine) -> LineOption | None:
    sku = inventory.resolve_sku(session, str(order.channel), line.sku)
    if sku is None or sku.product_code is None:
        return None
    others = list(
        session.scalars(
            select(Sku)
            .where(Sku.product_code == sku.product_code, Sku.id != sku.id)
            .order_by(Sku.code)
        )
    )
    free = _free(session, [other.id for other in others])
    variants = []
    for other in others:
        price = line.unit_price_fen if other.price_fen is None else other.price_fen
        variants.append(
            VariantOption(
                sku_id=other.id,
                label=_label(other),
                price_fen=price,
                difference_fen=max(line.unit_price_fen - price, 0),
                in_stock=free.get(other.id, 0) > 0,
                dearer=price > line.unit_price_fen,
            )
        )
    if not variants:
        return None
    return LineOption(line.id, line.name, line.unit_price_fen, tuple(variants))


def get_exchange_form(
    database: Database,
    order_id: int,
    refund_rules: RefundRules,
    now: datetime | None = None,
) -> ExchangeForm:
    """What the customer may exchange on this order, with the same checks the verb makes."""
    with database.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise ExchangeNotFound(order_id)
        try:
            check_exchangeable(order, now or utcnow(), refund_rules)
        except ExchangeNotAllowed as refused:
            return ExchangeForm(refused.code, ())
        taken = set(
            session.scalars(select(Exchange.from_line_id).where(Exchange.order_id == order_id))
        )
        lines = session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
        )
        options = [
            option
            for line in lines
            if line.id not in taken and (option := _line_option(session, order, line))
        ]
        return ExchangeForm(None, tuple(options))


def _leg(shipment: Shipment) -> ParcelLeg:
    return ParcelLeg(shipment.carrier_code, shipment.tracking_no, TrackingStatus(shipment.status))


def _view(session: Session, exchange: Exchange) -> ExchangeView:
    from_line = session.get(OrderLine, exchange.from_line_id)
    to_sku = session.get(Sku, exchange.to_sku_id)
    replacement = session.get(Order, exchange.replacement_order_id)
    assert from_line is not None and to_sku is not None and replacement is not None
    returned = (
        session.get(Shipment, exchange.return_shipment_id) if exchange.return_shipment_id else None
    )
    parcels = session.scalars(
        select(Shipment)
        .where(
            Shipment.order_id == replacement.id,
            Shipment.direction == ShipmentDirection.OUTBOUND,
        )
        .order_by(Shipment.id)
    )
    status = ExchangeStatus(exchange.status)
    return ExchangeView(
        id=exchange.id,
        status=status,
        from_name=from_line.name,
        to_name=f"{to_sku.name} {_label(to_sku)}",
        difference_fen=exchange.difference_fen,
        refunded_fen=exchange.refunded_fen,
        trusted=exchange.trusted,
        expires_at=exchange.expires_at,
        can_send_back=can(status, ExchangeAction.SEND_BACK),
        can_cancel=can(status, ExchangeAction.CANCEL),
        return_parcel=_leg(returned) if returned is not None else None,
        replacement_no=replacement.public_no,
        replacement_status=OrderStatus(replacement.status),
        replacement_held=replacement.hold_reason == HoldReason.AWAITING_RETURN,
        replacement_parcels=tuple(_leg(parcel) for parcel in parcels),
    )


def list_order_exchanges(database: Database, order_id: int) -> list[ExchangeView]:
    """The order's exchanges, newest first, each with its return parcel and its replacement."""
    with database.read() as session:
        rows = session.scalars(
            select(Exchange).where(Exchange.order_id == order_id).order_by(Exchange.id.desc())
        )
        return [_view(session, row) for row in rows]


@dataclass(frozen=True)
class QueueEntry:
    exchange_id: int
    public_no: str
    status: ExchangeStatus
    to_name: str
    difference_fen: int
    trusted: bool
    return_tracking_no: str | None
    overdue: bool  # a trusted customer's replacement left, and no parcel came by expires_at
    created_at: datetime


def list_exchange_queue(database: Database, now: datetime | None = None) -> list[QueueEntry]:
    """Exchanges a person must act on: parcels to sign in, and trusted ones gone overdue."""
    now = now or utcnow()
    with database.read() as session:
        rows = session.execute(
            select(Exchange, Order.public_no, Sku, Shipment.tracking_no)
            .join(Order, Order.id == Exchange.order_id)
            .join(Sku, Sku.id == Exchange.to_sku_id)
            .outerjoin(Shipment, Shipment.id == Exchange.return_shipment_id)
            .where(
                Exchange.status.in_(
                    [
                        str(ExchangeStatus.PARCEL_SENT),
                        str(ExchangeStatus.COLLECTED),
                        str(ExchangeStatus.AWAITING_PARCEL),
                    ]
                )
            )
            .order_by(Exchange.created_at)
        ).all()
    entries = []
    for exchange, public_no, sku, tracking_no in rows:
        waiting = exchange.status == ExchangeStatus.AWAITING_PARCEL
        # Untrusted ones past the deadline expire by themselves (expire_exchanges).
        overdue = waiting and exchange.trusted and exchange.expires_at <= now
        if waiting and not overdue:
            continue  # the customer's move, not staff's
        entries.append(
            QueueEntry(
                exchange.id,
                public_no,
                ExchangeStatus(exchange.status),
                f"{sku.name} {_label(sku)}",
                exchange.difference_fen,
                exchange.trusted,
                tracking_no,
                overdue,
                exchange.created_at,
            )
        )
    return entries
