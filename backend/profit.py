"""Profit per order, and where it is lost: price − cost − channel commission − shipping − refunds.

A seed article's 利润热力图: the same figure summed by day and channel, and the orders that
lost money, so a merchant sees which promotion or channel sells at a loss. Costs are
`Sku.cost_fen` (the SKU master), so only staff who may see costs see this.

Per order paid in the range (cancelled ones included: their refunds are part of the story):
- price: what the customer paid (`paid_fen`);
- cost: units × unit cost, once the goods left (an order never shipped cost no goods);
- commission: the channel's rate on what the merchant keeps (paid − refunded), rounded
  half up to the fen; platforms settle commission on the final amount;
- shipping: a flat cost per outbound parcel (the carriers' contract price is not in the data);
- refunds: money that went back (succeeded refunds only).
Four queries for the whole range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from backend.clock import SHANGHAI
from backend.db import Database
from backend.figures import DayRange
from backend.logistics.models import Shipment, ShipmentDirection
from backend.orders.models import Order, OrderLine, SalesChannel, Sku
from backend.refunds.models import Refund, RefundState

BASIS_POINTS = 10_000
CHANNELS = frozenset(str(channel) for channel in SalesChannel)


@dataclass(frozen=True)
class ProfitRules:
    # Channel (SalesChannel value) → commission in basis points (5% = 500); unknown: none.
    commission_bp: Mapping[str, int] = field(default_factory=dict)
    shipping_fen_per_parcel: int = 0
    # An order earning less than this is listed as loss-making (0: only real losses).
    loss_below_fen: int = 0


def parse_commissions(text: str) -> dict[str, int]:
    """ "taobao=5,jd=8.5" (percent) → {"taobao": 500, "jd": 850}; a malformed pair raises."""
    rates: dict[str, int] = {}
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        channel, sep, percent = part.partition("=")
        try:
            basis_points = round(float(percent) * 100)
        except ValueError:
            basis_points = -1
        if not sep or not 0 <= basis_points <= BASIS_POINTS:
            raise ValueError(f"commission {part!r} is not channel=percent (0-100)")
        if channel.strip() not in CHANNELS:
            raise ValueError(f"commission {part!r}: no channel {channel.strip()!r}")
        rates[channel.strip()] = basis_points
    return rates


@dataclass(frozen=True)
class OrderProfit:
    order_id: int
    public_no: str
    channel: str
    day: date  # the Shanghai day it was paid
    paid_fen: int
    cost_fen: int
    commission_fen: int
    shipping_fen: int
    refunded_fen: int

    @property
    def profit_fen(self) -> int:
        return (
            self.paid_fen
            - self.cost_fen
            - self.commission_fen
            - self.shipping_fen
            - self.refunded_fen
        )


def _commission(kept_fen: int, basis_points: int) -> int:
    return (max(kept_fen, 0) * basis_points + BASIS_POINTS // 2) // BASIS_POINTS


def order_profits(database: Database, days: DayRange, rules: ProfitRules) -> list[OrderProfit]:
    in_range = (Order.paid_at >= days.start, Order.paid_at < days.end)
    with database.read() as session:
        orders = session.execute(
            select(
                Order.id,
                Order.public_no,
                Order.channel,
                Order.paid_at,
                Order.paid_fen,
                Order.shipped_at,
            ).where(*in_range)
        ).all()
        costs = dict(
            session.execute(
                select(OrderLine.order_id, func.sum(OrderLine.quantity * Sku.cost_fen))
                .join(Sku, Sku.code == OrderLine.sku)
                .join(Order, Order.id == OrderLine.order_id)
                .where(*in_range)
                .group_by(OrderLine.order_id)
            ).all()
        )
        parcels = dict(
            session.execute(
                select(Shipment.order_id, func.count(Shipment.id))
                .join(Order, Order.id == Shipment.order_id)
                .where(*in_range, Shipment.direction == ShipmentDirection.OUTBOUND)
                .group_by(Shipment.order_id)
            ).all()
        )
        refunded = dict(
            session.execute(
                select(Refund.order_id, func.sum(Refund.amount_fen))
                .join(Order, Order.id == Refund.order_id)
                .where(*in_range, Refund.status == RefundState.SUCCESS)
                .group_by(Refund.order_id)
            ).all()
        )
    profits = []
    for order_id, public_no, channel, paid_at, paid_fen, shipped_at in orders:
        if paid_at is None:  # the range's condition excludes it; mypy can't know
            continue
        back = int(refunded.get(order_id) or 0)
        profits.append(
            OrderProfit(
                order_id=order_id,
                public_no=public_no,
                channel=str(channel),
                day=paid_at.astimezone(SHANGHAI).date(),
                paid_fen=paid_fen,
                cost_fen=int(costs.get(order_id) or 0) if shipped_at else 0,
                commission_fen=_commission(
                    paid_fen - back, rules.commission_bp.get(str(channel), 0)
                ),
                shipping_fen=int(parcels.get(order_id) or 0) * rules.shipping_fen_per_parcel,
                refunded_fen=back,
            )
        )
    return profits


def profit_by_day_and_channel(profits: list[OrderProfit]) -> dict[tuple[date, str], int]:
    totals: dict[tuple[date, str], int] = defaultdict(int)
    for profit in profits:
        totals[profit.day, profit.channel] += profit.profit_fen
    return dict(totals)


def loss_making(
    profits: list[OrderProfit], limit: int = 20, below_fen: int = 0
) -> list[OrderProfit]:
    """The orders that earned less than `below_fen` (lost money, by default), worst first."""
    losses = [profit for profit in profits if profit.profit_fen < below_fen]
    return sorted(losses, key=lambda profit: (profit.profit_fen, profit.order_id))[:limit]
