"""Channel orders into the one order model: idempotent, ordered, reserved, and held when doubtful.

The same channel order twice updates, never duplicates; an older update never regresses
a newer one; every raw payload is kept. New orders reserve stock and are held, with the
reason staff see, when a SKU is unknown, stock is short, the same phone bought the same SKU
minutes ago on any channel, the value needs a second reviewer, or the price is below cost.

The worker hands deliveries over in batches (`ingest_channel_orders`): one transaction, a
SAVEPOINT per delivery, new orders written with Core inserts (intake_new_orders.py) and
their stock reserved together at the end (reservations.py). Each rule holds per order as
if it had come alone; a single delivery is a batch of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders import allocation, reservations
from backend.orders import intake_new_orders as new_orders
from backend.orders.channels import CanonicalOrder, parse_order_file
from backend.orders.intake_updates import CHANNEL_PARCELS as CHANNEL_PARCELS  # re-exported
from backend.orders.intake_updates import ORDER_CLOSED as ORDER_CLOSED  # re-exported
from backend.orders.intake_updates import queue_parcels, update_stored
from backend.orders.models import (
    ChannelEvent,
    HoldReason,
    IntakeOutcome,
    Order,
)
from backend.orders.shops import ensure_shop
from backend.staff.permissions import Permission, check_permission

# Closed on the marketplace before it shipped; a refund there is the platform's, not ours.
CLOSED_BY_CHANNEL = new_orders.CLOSED_BY_CHANNEL


# Channels whose order updates name parcels the platform or a 3PL shipped (docs/protocols.md,
# "Waybills in channel order updates"); a channel whose fields prove wrong can be left out.
PARCEL_CHANNELS = frozenset({"shopify", "taobao", "tmall", "jd", "pinduoduo", "douyin"})

# Orders arrive from the channels (webhooks), the worker and the demo seed without a role;
# staff bring them in only by importing a file.
_INTAKE_SOURCES = (ActorKind.CHANNEL, ActorKind.SYSTEM)


@dataclass(frozen=True)
class IntakeRules:
    high_value_fen: int = 500_000  # ¥5,000
    below_cost_tolerance: float = 0.05
    duplicate_window: timedelta = timedelta(minutes=5)
    parcel_channels: frozenset[str] = PARCEL_CHANNELS
    # How long a transfer between two warehouses takes, for proposing one (调拨).
    lead_times: allocation.LeadTimes = field(default_factory=allocation.LeadTimes)


@dataclass(frozen=True)
class IntakeResult:
    order_id: int | None
    outcome: IntakeOutcome
    hold: HoldReason | None = None


_EVENTS: Table = ChannelEvent.__table__  # type: ignore[assignment]
_ORDERS: Table = Order.__table__  # type: ignore[assignment]
_NEW_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)
# A batch's new orders, once their stock is settled: the address made current, the hold set.
_SETTLE = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("order"))
    .values(
        current_address_id=bindparam("address"),
        hold_reason=bindparam("hold", type_=_ORDERS.c.hold_reason.type),
    )
)


@dataclass(frozen=True)
class Arrival:
    """One delivery to ingest: the order as the channel sent it, and where it came from.

    `shop_code` is the store the push came through; an order keeps the shop it first came
    in by, and a push for it through another shop's URL changes nothing (OTHER_SHOP).
    `receipt` names the acknowledged push, so that its job run twice records nothing again.
    """

    order: CanonicalOrder
    raw: str
    actor: Actor
    delivery_id: str | None = None
    shop_code: str | None = None
    receipt: str | None = None


def ingest_channel_order(
    database: Database,
    order: CanonicalOrder,
    raw: str,
    rules: IntakeRules,
    actor: Actor,
    *,
    delivery_id: str | None = None,
    shop_code: str | None = None,
    receipt: str | None = None,
) -> IntakeResult:
    """One delivery, one transaction. A concurrent twin that inserted first makes this an update."""
    arrival = Arrival(order, raw, actor, delivery_id, shop_code, receipt)
    (outcome,) = ingest_channel_orders(database, [arrival], rules)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def ingest_channel_orders(
    database: Database, arrivals: Sequence[Arrival], rules: IntakeRules
) -> list[IntakeResult | Exception]:
    """Several deliveries, one transaction, a SAVEPOINT each: one that fails is its own outcome
    (the exception), rolled back alone, and the others are ingested as if it never came.

    Stock for the batch's new orders is reserved at the end (backend/orders/reservations.py);
    an order twice in the batch sees its first delivery as stored, as it would across two
    transactions.
    """
    outcomes: list[IntakeResult | Exception] = []
    with database.write() as session:
        batch = _Batch(session, rules, arrivals)
        for index, arrival in enumerate(arrivals):
            outcomes.append(batch.ingest(index, arrival))
        batch.settle(outcomes)
    return outcomes


@dataclass
class _Effects:
    """What one arrival's savepoint did, kept by the batch only once it is released."""

    result: IntakeResult
    created: new_orders.Created | None = None
    buyer: tuple[str, int] | None = None


class _Batch:
    """The state of one intake transaction: what is known, read once, and what is pending."""

    def __init__(self, session: Session, rules: IntakeRules, arrivals: Sequence[Arrival]) -> None:
        self.session, self.rules = session, rules
        self.catalogue = new_orders.Catalogue(session)
        self.shops = {
            arrival.shop_code: ensure_shop(session, arrival.shop_code, arrival.order.channel).id
            for arrival in arrivals
            if arrival.shop_code
        }
        self.receipts: dict[str, IntakeResult] = {}
        self.deliveries: set[str] = set()
        self.orders: dict[tuple[str, str], int] = {}
        self._read(arrivals)
        self.customers = new_orders.find_customers(session, [a.order for a in arrivals])
        self.recent: list[new_orders.Recent] = []
        self.pending: list[new_orders.Created] = []
        self.settled_holds: dict[int, HoldReason | None] = {}  # settled before the batch ended

    def _read(self, arrivals: Sequence[Arrival]) -> None:
        """What the database holds already for these arrivals: three queries, not three each."""
        session = self.session
        receipts = {a.receipt for a in arrivals if a.receipt}
        if receipts:
            taken = select(ChannelEvent.receipt, ChannelEvent.order_id, ChannelEvent.outcome)
            for receipt, order_id, outcome in session.execute(
                taken.where(ChannelEvent.receipt.in_(receipts))
            ):
                if receipt:
                    self.receipts[receipt] = IntakeResult(order_id, IntakeOutcome(outcome))
        deliveries = {a.delivery_id for a in arrivals if a.delivery_id}
        if deliveries:
            known = select(ChannelEvent.delivery_id).where(ChannelEvent.delivery_id.in_(deliveries))
            self.deliveries.update(d for d in session.scalars(known) if d)
        numbers = {a.order.channel_order_no for a in arrivals}
        channels = {str(a.order.channel) for a in arrivals}
        stored = select(Order.channel, Order.channel_order_no, Order.id).where(
            # Both columns, so that the unique (channel, channel_order_no) index answers it.
            Order.channel.in_(channels),
            Order.channel_order_no.in_(numbers),
        )
        for channel, number, order_id in session.execute(stored):
            self.orders[(str(channel), number)] = order_id

    def ingest(self, index: int, arrival: Arrival) -> IntakeResult | Exception:
        try:
            check_permission(arrival.actor, Permission.IMPORT_ORDERS, also=_INTAKE_SOURCES)
        except Exception as error:
            return error
        key = (str(arrival.order.channel), arrival.order.channel_order_no)
        if any(created.ingested["channel_order_no"] == key[1] for created in self.pending):
            self.settle_pending()  # the order is updated as stored, stock and hold included
        for attempt in range(2):
            try:
                with self.session.begin_nested():
                    effects = self._one(index, arrival)
            except IntegrityError as error:
                # A twin (another worker) stored this order or delivery first: read again.
                if attempt:
                    return error
                self._read([arrival])
                continue
            except Exception as error:  # this order only; the batch goes on without it
                return error
            self._keep_effects(arrival, key, effects)
            return effects.result
        raise AssertionError("unreachable")

    def _keep_effects(self, arrival: Arrival, key: tuple[str, str], effects: _Effects) -> None:
        if arrival.delivery_id:
            self.deliveries.add(arrival.delivery_id)
        if arrival.receipt:
            self.receipts[arrival.receipt] = effects.result
        if (
            effects.result.order_id is not None
            and effects.result.outcome != IntakeOutcome.OTHER_SHOP
        ):
            self.orders.setdefault(key, effects.result.order_id)
        if effects.buyer is not None:
            self.customers[effects.buyer[0]] = effects.buyer[1]
        if effects.created is not None:
            self.pending.append(effects.created)
            self.recent.append(effects.created.recent)

    def _one(self, index: int, arrival: Arrival) -> _Effects:
        session, order = self.session, arrival.order
        channel = str(order.channel)
        if arrival.receipt and arrival.receipt in self.receipts:
            return _Effects(self.receipts[arrival.receipt])
        if arrival.delivery_id and arrival.delivery_id in self.deliveries:
            self._keep(arrival, None, IntakeOutcome.DUPLICATE_DELIVERY, None)
            return _Effects(IntakeResult(None, IntakeOutcome.DUPLICATE_DELIVERY))
        shop_id = self.shops.get(arrival.shop_code) if arrival.shop_code else None
        stored_id = self.orders.get((channel, order.channel_order_no))
        effects = _Effects(IntakeResult(None, IntakeOutcome.CREATED))
        if stored_id is None:
            created, buyer_index, buyer_id = new_orders.create(
                session,
                index,
                order,
                self.rules,
                arrival.actor,
                shop_id,
                self.catalogue,
                self.customers,
                self.recent,
            )
            effects = _Effects(IntakeResult(created.order_id, IntakeOutcome.CREATED), created)
            effects.buyer = (buyer_index, buyer_id)
        else:
            stored = session.scalars(
                select(Order).where(Order.id == stored_id).with_for_update()
            ).one()
            if shop_id is not None and stored.shop_id is not None and stored.shop_id != shop_id:
                # Order numbers are unique across a platform, so another store's secret naming
                # this order is a misrouted or forged push; it must not cancel or pay it.
                effects = _Effects(IntakeResult(stored.id, IntakeOutcome.OTHER_SHOP))
            else:
                outcome = update_stored(session, stored, order, arrival.actor)
                effects = _Effects(IntakeResult(stored.id, outcome))
        result = effects.result
        event_id = self._keep(arrival, arrival.delivery_id, result.outcome, result.order_id)
        shipped_outside = bool(order.parcels) and channel in self.rules.parcel_channels
        if shipped_outside and result.order_id and result.outcome != IntakeOutcome.IGNORED_OLDER:
            queue_parcels(session, event_id, result.order_id, order, arrival.actor)
        return effects

    def _keep(
        self,
        arrival: Arrival,
        delivery_id: str | None,
        outcome: IntakeOutcome,
        order_id: int | None,
    ) -> int:
        """Every raw payload is kept, with what became of it."""
        values = {
            "channel": str(arrival.order.channel),
            "delivery_id": delivery_id,
            "receipt": arrival.receipt,
            "order_id": order_id,
            "channel_order_no": arrival.order.channel_order_no,
            "body": arrival.raw,
            "outcome": outcome,
        }
        return int(self.session.execute(_NEW_EVENT, values).scalar_one())

    def settle_pending(self, outcomes: list[IntakeResult | Exception] | None = None) -> None:
        """Stock for the new orders so far, then their holds, addresses and audit events."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        wanted = [
            reservations.Wanted(c.order_id, c.lines, c.destination, take=not c.closed)
            for c in pending
            if not c.unknown_sku
        ]
        placed = reservations.reserve_orders(self.session, wanted, self.rules.lead_times)
        settled, events = [], []
        for created in pending:
            hold = created.hold(placed.get(created.order_id, False))
            settled.append({"order": created.order_id, "address": created.address_id, "hold": hold})
            events += created.events
            after = created.ingested | {"hold": str(hold) if hold else None}
            events.append(
                audit.build(
                    created.actor,
                    "order.ingested",
                    subject="order",
                    subject_id=created.order_id,
                    order_id=created.order_id,
                    after=after,
                )
            )
            if outcomes is not None:
                outcomes[created.index] = IntakeResult(
                    created.order_id, IntakeOutcome.CREATED, hold
                )
            else:
                self.settled_holds[created.index] = hold
        self.session.execute(_SETTLE, settled)
        audit.record_all(self.session, events)

    def settle(self, outcomes: list[IntakeResult | Exception]) -> None:
        for index, hold in self.settled_holds.items():
            outcome = outcomes[index]
            if isinstance(outcome, IntakeResult):
                outcomes[index] = IntakeResult(outcome.order_id, outcome.outcome, hold)
        self.settle_pending(outcomes)


@dataclass(frozen=True)
class ImportResult:
    created: int
    unchanged: int
    errors: tuple[tuple[int, str, str], ...]  # (row, column, code)


def import_order_file(
    database: Database, filename: str, data: bytes, rules: IntakeRules, actor: Actor
) -> ImportResult:
    """Hand-taken orders from CSV/Excel: good orders go in, bad rows are reported one by one.

    Each order is its own intake transaction (its `order.ingested` event names the
    importing staff member); the file as a whole is audited once at the end.
    """
    check_permission(actor, Permission.IMPORT_ORDERS)
    orders, errors = parse_order_file(filename, data)
    created = unchanged = 0
    for order in orders:
        result = ingest_channel_order(database, order, f"import:{filename}", rules, actor)
        if result.outcome == IntakeOutcome.CREATED:
            created += 1
        else:
            unchanged += 1
    with database.write() as session:
        audit.record(
            session,
            actor,
            "orders.imported",
            subject="import",
            subject_id=filename[:64],
            after={
                "file": filename,
                "lines": sum(len(order.lines) for order in orders),  # rows of good orders
                "orders": len(orders),
                "created": created,
                "unchanged": unchanged,
                "errors": len(errors),
                "rows_with_errors": len({error.row for error in errors}),
            },
        )
    return ImportResult(
        created, unchanged, tuple((error.row, error.column, error.code) for error in errors)
    )
