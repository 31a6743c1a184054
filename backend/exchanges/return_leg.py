"""The exchange's return leg: the customer posts the old unit, the carrier's first scan lets the
replacement ship, the warehouse signs it in and a cheaper variant's difference is refunded."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.exchanges.lifecycle import ExchangeAction, ExchangeTransitionNotAllowed
from backend.exchanges.models import Exchange
from backend.exchanges.service import (
    ExchangeNotFound,
    ExchangeWaybillInvalid,
    customers_exchange,
    move,
    notify_released,
    record,
)
from backend.logistics.carriers.names import CARRIER_NAMES
from backend.logistics.models import Shipment
from backend.logistics.service import CARRIER_HAS_IT, add_return_shipment
from backend.logistics.status import TrackingStatus
from backend.orders.models import HoldReason, Order
from backend.refunds import payouts
from backend.staff.permissions import Permission, check_permission


def send_back(
    database: Database,
    exchange_id: int,
    customer_id: int,
    carrier_code: str,
    tracking_no: str,
    actor: Actor,
) -> None:
    """The customer posted the old unit: its waybill is tracked from now on, like a return's."""
    tracking_no = "".join(ch for ch in tracking_no if ch.isalnum()).upper()[:40]
    if len(tracking_no) < 6 or carrier_code not in CARRIER_NAMES:
        raise ExchangeWaybillInvalid(tracking_no)
    with database.write() as session:
        exchange = customers_exchange(session, exchange_id, customer_id)
        moved = move(exchange, ExchangeAction.SEND_BACK)
        shipment = add_return_shipment(session, exchange.order_id, carrier_code, tracking_no, actor)
        exchange.return_shipment_id = shipment.id
        record(session, actor, exchange, "sent_back", moved)


def collect(database: Database, exchange_id: int, actor: Actor) -> None:
    """The carrier has the old unit: the replacement's hold is lifted and fulfilment ships it."""
    with database.write() as session:
        exchange = session.get(Exchange, exchange_id, with_for_update=True)
        if exchange is None:
            raise ExchangeNotFound(exchange_id)
        moved = move(exchange, ExchangeAction.COLLECT)
        if moved[0] == moved[1]:
            return  # a later scan of a parcel already collected
        replacement = session.get(Order, exchange.replacement_order_id, with_for_update=True)
        assert replacement is not None
        if replacement.hold_reason == HoldReason.AWAITING_RETURN:
            replacement.hold_reason = None
            audit.record(
                session,
                actor,
                "order.hold_released",
                subject="order",
                subject_id=replacement.id,
                order_id=replacement.id,
                before={"hold": str(HoldReason.AWAITING_RETURN)},
            )
            notify_released(session, exchange)
        record(session, actor, exchange, "collected", moved)


def on_return_parcel(database: Database, payload: dict[str, Any]) -> None:
    """Job (RETURN_PARCEL_MOVED): the first carrier scan of an exchange's parcel collects it."""
    status = TrackingStatus(payload["status"])
    if status not in CARRIER_HAS_IT and status != TrackingStatus.DELIVERED:
        return
    with database.read() as session:
        exchange_id = session.scalar(
            select(Exchange.id).where(Exchange.return_shipment_id == payload["shipment_id"])
        )
    if exchange_id is None:
        return
    # Signed in by the warehouse before the carrier's update arrived: nothing left to do.
    with suppress(ExchangeTransitionNotAllowed):
        collect(database, exchange_id, Actor.system("carrier"))


def receive_exchange(database: Database, exchange_id: int, actor: Actor) -> int:
    """The warehouse signed the old unit in: done; a cheaper variant's difference is refunded,
    never more than what is left of the payment. Returns the fen refunded."""
    check_permission(actor, Permission.SCAN_PARCELS, also=(ActorKind.SYSTEM,))
    with database.write() as session:
        exchange = session.get(Exchange, exchange_id, with_for_update=True)
        if exchange is None:
            raise ExchangeNotFound(exchange_id)
        moved = move(exchange, ExchangeAction.RECEIVE)
        replacement = session.get(Order, exchange.replacement_order_id, with_for_update=True)
        assert replacement is not None
        if replacement.hold_reason == HoldReason.AWAITING_RETURN:
            replacement.hold_reason = None  # signed in without a carrier scan (handed over)
            notify_released(session, exchange)
        exchange.closed_at, exchange.closed_by = utcnow(), actor.identifier
        exchange.refunded_fen = _refund_difference(session, exchange, actor)
        record(session, actor, exchange, "received", moved)
        return exchange.refunded_fen


def _refund_difference(session: Session, exchange: Exchange, actor: Actor) -> int:
    if not exchange.difference_fen:
        return 0
    order = session.get(Order, exchange.order_id, with_for_update=True)
    assert order is not None
    amount = min(exchange.difference_fen, order.paid_fen - payouts.committed_fen(session, order.id))
    if amount <= 0:
        return 0
    try:
        payouts.start_refund(session, order.id, amount, actor)
    except payouts.NoGateway:
        return 0  # paid on the marketplace: finance refunds there (the audit shows the difference)
    return amount


def receive_by_waybill(database: Database, code: str, actor: Actor) -> int | None:
    """Warehouse scan of an exchange's returned parcel: signs it in. None when it is not one."""
    number = "".join(ch for ch in code if ch.isalnum()).upper()[:40]
    with database.read() as session:
        exchange_id = session.scalar(
            select(Exchange.id)
            .join(Shipment, Shipment.id == Exchange.return_shipment_id)
            .where(Shipment.tracking_no == number)
        )
    if exchange_id is None:
        return None
    # Scanned twice, or signed in from the queue already: the scan still names the exchange.
    with suppress(ExchangeTransitionNotAllowed):
        receive_exchange(database, exchange_id, actor)
    return exchange_id
