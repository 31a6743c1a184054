"""Exchange verbs: file, cancel, expire; each one transaction with its audit event (the return
leg's verbs are in return_leg.py).

The replacement is a new manual-channel order for the same customer and address, reserved at
once through the allocation rules and held (AWAITING_RETURN) until the carrier has the old
unit, unless the trust rule lets it leave at once. It then ships through fulfilment as any
order does. No ReturnRequest is filed: that would refund the whole line when the parcel
arrives, while an exchange refunds only a cheaper variant's difference.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.exchanges.lifecycle import (
    ExchangeAction,
    ExchangeStatus,
    next_status,
)
from backend.exchanges.models import Exchange
from backend.exchanges.rules import ExchangeRules, TrustFacts, price_difference, trust
from backend.notifications import outbox
from backend.notifications.models import NotificationEvent
from backend.orders import allocation, inventory
from backend.orders.lifecycle import OrderAction, OrderStatus, can
from backend.orders.models import (
    AddressVersion,
    HoldReason,
    Order,
    OrderLine,
    SalesChannel,
    Sku,
)
from backend.orders.service import NewAddress, add_address_version, new_public_number, transition
from backend.refunds.models import Refund, RefundState
from backend.refunds.rules import RefundRules, days_since_delivery

SUBJECT = "exchange"
EXCHANGEABLE = frozenset({OrderStatus.DELIVERED, OrderStatus.COMPLETED})


class ExchangeNotFound(LookupError):
    """No such order, line or exchange for this customer."""


class ExchangeNotAllowed(Exception):
    """The order is not delivered, or its return window has closed."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class VariantNotOfProduct(Exception):
    """The chosen SKU is not another variant of the line's product."""


class VariantOutOfStock(Exception):
    """No warehouse has a free unit of the chosen variant: nothing was reserved."""


class AlreadyExchanged(Exception):
    """This line has been exchanged (or an exchange of it was abandoned) before."""


class ExchangeWaybillInvalid(ValueError):
    """The return waybill number or carrier is not one we can track."""


def move(exchange: Exchange, action: ExchangeAction) -> tuple[ExchangeStatus, ExchangeStatus]:
    before = ExchangeStatus(exchange.status)
    exchange.status = next_status(before, action)
    return before, ExchangeStatus(exchange.status)


def record(
    session: Session, actor: Actor, exchange: Exchange, what: str, moved: tuple[Any, Any] | None
) -> None:
    audit.record(
        session,
        actor,
        f"exchange.{what}",
        subject=SUBJECT,
        subject_id=exchange.id,
        order_id=exchange.order_id,
        before={"status": str(moved[0])} if moved else None,
        after={"status": str(exchange.status), "replacement": exchange.replacement_order_id},
    )


def _customers_line(
    session: Session, order_id: int, customer_id: int, line_id: int
) -> tuple[Order, OrderLine]:
    # Locked: two exchanges of one order queue here, so the checks below see each other.
    order = session.get(Order, order_id, with_for_update=True)
    line = session.get(OrderLine, line_id)
    if order is None or order.customer_id != customer_id or line is None:
        raise ExchangeNotFound(order_id)
    if line.order_id != order.id:
        raise ExchangeNotFound(line_id)
    return order, line


def check_exchangeable(order: Order, now: datetime, refund_rules: RefundRules) -> None:
    if OrderStatus(order.status) not in EXCHANGEABLE or order.delivered_at is None:
        raise ExchangeNotAllowed("not_delivered")
    if days_since_delivery(order.delivered_at, now) > refund_rules.return_window_days:
        raise ExchangeNotAllowed("window_closed")


def variant_pair(
    session: Session, order: Order, line: OrderLine, to_sku_id: int
) -> tuple[Sku, Sku]:
    """The line's SKU and the chosen one, when both are variants of one product."""
    from_sku = inventory.resolve_sku(session, str(order.channel), line.sku)
    to_sku = session.get(Sku, to_sku_id)
    same_product = (
        from_sku is not None
        and to_sku is not None
        and from_sku.product_code is not None
        and from_sku.product_code == to_sku.product_code
        and from_sku.id != to_sku.id
    )
    if not same_product or from_sku is None or to_sku is None:
        raise VariantNotOfProduct(to_sku_id)
    return from_sku, to_sku


def _trust_facts(session: Session, order: Order, now: datetime, rules: ExchangeRules) -> TrustFacts:
    completed = session.scalar(
        select(func.count())
        .select_from(Order)
        .where(
            Order.customer_id == order.customer_id,
            Order.id != order.id,
            Order.status.in_([str(OrderStatus.DELIVERED), str(OrderStatus.COMPLETED)]),
        )
    )
    refunds = session.scalar(
        select(func.count())
        .select_from(Refund)
        .join(Order, Order.id == Refund.order_id)
        .where(
            Order.customer_id == order.customer_id,
            Refund.status != RefundState.FAILED,
            Refund.created_at > now - timedelta(days=rules.trusted_quiet_days),
        )
    )
    return TrustFacts(int(completed or 0), int(refunds or 0), order.risk_flag)


def _replacement(
    session: Session, order: Order, to_sku: Sku, actor: Actor, now: datetime
) -> tuple[Order, bool]:
    """The new order with its one line, reserved; (order, False) when nothing was free."""
    row = Order(
        public_no=new_public_number(now),
        channel=SalesChannel.MANUAL,
        channel_order_no=f"EX{order.public_no}-{to_sku.id}",
        customer_id=order.customer_id,
        status=OrderStatus.PENDING_PAYMENT,
        status_changed_at=now,
        payment_method=order.payment_method,
        placed_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    current = session.get(AddressVersion, order.current_address_id)
    if current is not None:
        address = NewAddress(
            current.recipient_name,
            current.phone,
            current.province,
            current.city,
            current.district,
            current.street,
            current.postal_code,
        )
        add_address_version(session, row, address, actor, at=now)
    label = f" {to_sku.variant_label}" if to_sku.variant_label else ""
    line = OrderLine(
        order_id=row.id,
        sku=to_sku.code,
        name=f"{to_sku.name}{label}"[:200],
        quantity=1,
        unit_price_fen=0,
    )
    session.add(line)
    session.flush()
    destination = current.province if current is not None else ""
    wanted = [allocation.Line(line.id, to_sku.id, 1)]
    reserved = inventory.reserve_lines(session, row.id, destination, wanted, allocation.LeadTimes())
    # Nothing to pay: the customer paid on the original order.
    transition(session, row, OrderAction.PAY, actor, now)
    return row, reserved


def request_exchange(
    database: Database,
    order_id: int,
    customer_id: int,
    line_id: int,
    to_sku_id: int,
    actor: Actor,
    *,
    rules: ExchangeRules,
    refund_rules: RefundRules,
    now: datetime | None = None,
) -> int:
    """换货: one unit of a delivered line for another in-stock variant of the same product."""
    now = now or utcnow()
    try:
        with database.write() as session:
            order, line = _customers_line(session, order_id, customer_id, line_id)
            check_exchangeable(order, now, refund_rules)
            from_sku, to_sku = variant_pair(session, order, line, to_sku_id)
            difference = price_difference(line.unit_price_fen, to_sku.price_fen)
            if session.scalar(select(Exchange.id).where(Exchange.from_line_id == line.id)):
                raise AlreadyExchanged(line.id)
            replacement, reserved = _replacement(session, order, to_sku, actor, now)
            if not reserved:
                # Raised inside the transaction: the new order and its rows are rolled back.
                raise VariantOutOfStock(to_sku_id)
            trusted, reason = trust(_trust_facts(session, order, now, rules), rules)
            replacement.hold_reason = None if trusted else HoldReason.AWAITING_RETURN
            exchange = Exchange(
                order_id=order.id,
                customer_id=customer_id,
                from_line_id=line.id,
                from_sku_id=from_sku.id,
                to_sku_id=to_sku.id,
                replacement_order_id=replacement.id,
                status=ExchangeStatus.AWAITING_PARCEL,
                difference_fen=difference,
                trusted=trusted,
                trust_reason=reason,
                expires_at=now + rules.parcel_within,
                created_at=now,
            )
            session.add(exchange)
            session.flush()
            record(session, actor, exchange, "requested", None)
            if trusted:
                notify_released(session, exchange)
            return exchange.id
    except IntegrityError:
        # Two posts raced past the check; the unique line let one in and rolled this back.
        raise AlreadyExchanged(line_id) from None


def notify_released(session: Session, exchange: Exchange) -> None:
    outbox.notify(
        session,
        exchange.order_id,
        NotificationEvent.EXCHANGE_RELEASED,
        details={"detail": "换货商品即将发出"},
        reference=f"x{exchange.id}",
    )


def customers_exchange(session: Session, exchange_id: int, customer_id: int) -> Exchange:
    exchange = session.get(Exchange, exchange_id, with_for_update=True)
    if exchange is None or exchange.customer_id != customer_id:
        raise ExchangeNotFound(exchange_id)
    return exchange


def _abandon(session: Session, exchange: Exchange, action: ExchangeAction, actor: Actor) -> None:
    moved = move(exchange, action)
    replacement = session.get(Order, exchange.replacement_order_id, with_for_update=True)
    assert replacement is not None
    # The status move above refuses a second abandon, so the unit goes back exactly once.
    inventory.release(session, replacement.id)
    if can(OrderStatus(replacement.status), OrderAction.CANCEL):
        transition(session, replacement, OrderAction.CANCEL, actor)
    replacement.hold_reason = None
    exchange.closed_at, exchange.closed_by = utcnow(), actor.identifier
    record(session, actor, exchange, str(action), moved)


def cancel_exchange(database: Database, exchange_id: int, customer_id: int, actor: Actor) -> None:
    """The customer changed their mind before posting: the reserved unit goes back to stock."""
    with database.write() as session:
        exchange = customers_exchange(session, exchange_id, customer_id)
        _abandon(session, exchange, ExchangeAction.CANCEL, actor)


def expire_exchanges(database: Database, now: datetime | None = None) -> int:
    """Job: exchanges with no return waybill by expires_at give their reserved unit back.

    A trusted customer's replacement may have left already; those stay for support's queue.
    """
    now = now or utcnow()
    with database.read() as session:
        due = list(
            session.scalars(
                select(Exchange.id).where(
                    Exchange.status == ExchangeStatus.AWAITING_PARCEL,
                    Exchange.expires_at <= now,
                    Exchange.trusted.is_(False),
                )
            )
        )
    expired = 0
    for exchange_id in due:
        with database.write() as session:
            exchange = session.get(Exchange, exchange_id, with_for_update=True)
            if exchange is None or exchange.status != ExchangeStatus.AWAITING_PARCEL:
                continue  # cancelled or posted meanwhile
            _abandon(session, exchange, ExchangeAction.EXPIRE, Actor.system("exchange-expiry"))
            expired += 1
    return expired
