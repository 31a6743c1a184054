"""The figures a merchant manages by, for a range of Shanghai days, against the range before.

订单处理时效, 发货准确率, 退款平均周期, 客户投诉率 and on-time shipment, each defined
once here (the operations page and its tests read these definitions, not their own):

- processing: paid → shipped, median and p90, over orders shipped in the range;
- on time: of orders paid in the range whose ship promise (24 h) has run out, the share
  shipped within it; an order still unshipped after its promise counts as late;
- accuracy: of orders shipped in the range, the share without a return for a wrong or
  missing item;
- refund cycle: request → money back, the mean over refunds that succeeded in the range
  (the return request's time where there is one, else the refund's own);
- complaints: customer messages and 催发货 raised in the range, per order paid in it.

Five queries per range, whatever the number of orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from backend.clock import SHANGHAI
from backend.db import Database
from backend.operations import SHIP_PROMISE
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import AddressVersion, Order, OrderLine
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.models import Refund, RefundState, ReturnLine, ReturnRequest
from backend.refunds.reasons import ReasonCode
from backend.support.models import SupportRequest

# Returns that say the warehouse shipped the wrong thing: what 发货准确率 counts against.
PICKING_MISTAKES = (ReasonCode.WRONG_ITEM, ReasonCode.MISSING_ITEM)
QUERIES_PER_RANGE = 5
LONGEST_RANGE = timedelta(days=366)


class RangeInvalid(ValueError):
    """The range ends before it starts, or is longer than a year."""


@dataclass(frozen=True)
class DayRange:
    """Shanghai days, both ends included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise RangeInvalid("the range ends before it starts")
        if self.last - self.first >= LONGEST_RANGE:
            raise RangeInvalid("the range is longer than a year")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), SHANGHAI)

    @property
    def end(self) -> datetime:
        """The instant after the last day: ranges are half-open in time."""
        return datetime.combine(self.last + timedelta(days=1), time(0), SHANGHAI)

    def previous(self) -> DayRange:
        """The same number of days just before."""
        return DayRange(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


@dataclass(frozen=True)
class Figures:
    orders_paid: int
    shipped: int
    processing_median: timedelta | None
    processing_p90: timedelta | None
    on_time_rate: float | None
    accuracy_rate: float | None
    refunds: int
    refund_cycle_mean: timedelta | None
    complaints: int
    complaint_rate: float | None


@dataclass(frozen=True)
class FigureComparison:
    range: DayRange
    current: Figures
    previous: Figures


def percentile(values: list[timedelta], fraction: float) -> timedelta | None:
    """Nearest-rank percentile: the smallest value with at least `fraction` of them at or below."""
    if not values:
        return None
    ordered = sorted(values)
    # ceil(fraction × n) in integers: 0.9 × 10 in floats is 9.000000000000002, ceil 10.
    per_mille = round(fraction * 1000)
    rank = max(1, -(-per_mille * len(ordered) // 1000))
    return ordered[min(rank, len(ordered)) - 1]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def figures_for(database: Database, days: DayRange, now: datetime) -> Figures:
    start, end = days.start, days.end
    with database.read() as session:
        shipped = session.execute(
            select(Order.id, Order.paid_at, Order.shipped_at).where(
                Order.shipped_at >= start, Order.shipped_at < end, Order.paid_at.is_not(None)
            )
        ).all()
        paid = session.execute(
            select(Order.paid_at, Order.shipped_at, Order.status).where(
                Order.paid_at >= start, Order.paid_at < end
            )
        ).all()
        mistaken = set(
            session.scalars(
                select(ReturnRequest.order_id)
                .join(Order, Order.id == ReturnRequest.order_id)
                .where(
                    Order.shipped_at >= start,
                    Order.shipped_at < end,
                    ReturnRequest.reason.in_([str(code) for code in PICKING_MISTAKES]),
                )
            ).all()
        )
        refunds = session.execute(
            select(
                Refund.succeeded_at,
                func.coalesce(ReturnRequest.created_at, Refund.created_at),
            )
            .outerjoin(ReturnRequest, ReturnRequest.id == Refund.return_id)
            .where(
                Refund.status == RefundState.SUCCESS,
                Refund.succeeded_at >= start,
                Refund.succeeded_at < end,
            )
        ).all()
        complaints = (
            session.scalar(
                select(func.count())
                .select_from(SupportRequest)
                .where(SupportRequest.created_at >= start, SupportRequest.created_at < end)
            )
            or 0
        )
    # The queries' own conditions make these columns non-null; the checks say so to mypy.
    processing = [
        shipped_at - paid_at for _, paid_at, shipped_at in shipped if paid_at and shipped_at
    ]
    due = [
        (paid_at, shipped_at)
        for paid_at, shipped_at, status in paid
        if paid_at and status != OrderStatus.CANCELLED and paid_at + SHIP_PROMISE <= now
    ]
    on_time = len(
        [1 for paid_at, shipped_at in due if shipped_at and shipped_at - paid_at <= SHIP_PROMISE]
    )
    cycles = [money_back - asked for money_back, asked in refunds if money_back and asked]
    return Figures(
        orders_paid=len(paid),
        shipped=len(shipped),
        processing_median=percentile(processing, 0.5),
        processing_p90=percentile(processing, 0.9),
        on_time_rate=_rate(on_time, len(due)),
        accuracy_rate=_rate(len(shipped) - len(mistaken), len(shipped)),
        refunds=len(cycles),
        refund_cycle_mean=sum(cycles, timedelta(0)) / len(cycles) if cycles else None,
        complaints=int(complaints),
        complaint_rate=_rate(int(complaints), len(paid)),
    )


def compare(database: Database, days: DayRange, now: datetime) -> FigureComparison:
    return FigureComparison(
        days, figures_for(database, days, now), figures_for(database, days.previous(), now)
    )


# A delivery is late once it has taken longer than this from pickup to the customer.
LATE_AFTER = timedelta(hours=72)


@dataclass(frozen=True)
class ProvinceLateness:
    province: str  # as the addresses write it: 浙江省, 广西壮族自治区 ...
    orders: int  # shipped in the range, delivered or past LATE_AFTER by now
    late: int

    @property
    def rate(self) -> float:
        return self.late / self.orders


def late_deliveries_by_province(
    database: Database, days: DayRange, now: datetime
) -> list[ProvinceLateness]:
    """Per destination province, of orders shipped in the range whose delivery is due by now,
    how many took longer than LATE_AFTER (still undelivered past it counts as late). One query.
    """
    with database.read() as session:
        rows = session.execute(
            select(AddressVersion.province, Order.shipped_at, Order.delivered_at)
            .join(AddressVersion, AddressVersion.id == Order.current_address_id)
            .where(Order.shipped_at >= days.start, Order.shipped_at < days.end)
        ).all()
    due: dict[str, list[bool]] = {}
    for province, shipped_at, delivered_at in rows:
        if shipped_at is None or (delivered_at is None and shipped_at + LATE_AFTER > now):
            continue
        due.setdefault(province, []).append((delivered_at or now) - shipped_at > LATE_AFTER)
    return sorted(
        (ProvinceLateness(province, len(late), sum(late)) for province, late in due.items()),
        key=lambda entry: (-entry.rate, -entry.orders, entry.province),
    )


@dataclass(frozen=True)
class SkuReturns:
    sku: str
    name: str
    sold: int  # units on orders shipped in the range
    returned: int  # of those units, how many a return asked back (rejected returns excluded)

    @property
    def rate(self) -> float:
        return self.returned / self.sold if self.sold else 0.0


def returns_by_sku(database: Database, days: DayRange, limit: int = 20) -> list[SkuReturns]:
    """SKUs by the share of their shipped units asked back, worst first. Two queries."""
    shipped = (Order.shipped_at >= days.start, Order.shipped_at < days.end)
    with database.read() as session:
        sold = session.execute(
            select(OrderLine.sku, func.max(OrderLine.name), func.sum(OrderLine.quantity))
            .join(Order, Order.id == OrderLine.order_id)
            .where(*shipped)
            .group_by(OrderLine.sku)
        ).all()
        returned = dict(
            session.execute(
                select(OrderLine.sku, func.sum(ReturnLine.quantity))
                .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
                .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
                .join(Order, Order.id == OrderLine.order_id)
                .where(*shipped, ReturnRequest.status != ReturnStatus.REJECTED)
                .group_by(OrderLine.sku)
            ).all()
        )
    rows = [
        SkuReturns(sku, name, int(units), int(returned.get(sku) or 0)) for sku, name, units in sold
    ]
    rows.sort(key=lambda row: (-row.rate, -row.sold, row.sku))
    return rows[:limit]


@dataclass(frozen=True)
class BoughtTogether:
    first: str
    second: str
    orders: int  # orders placed in the range holding both SKUs


def bought_together(database: Database, days: DayRange, limit: int = 10) -> list[BoughtTogether]:
    """Pairs of SKUs most often on the same order placed in the range. One query (a self-join)."""
    other = aliased(OrderLine)
    with database.read() as session:
        rows = session.execute(
            select(OrderLine.sku, other.sku, func.count(func.distinct(OrderLine.order_id)))
            .join(other, (other.order_id == OrderLine.order_id) & (other.sku > OrderLine.sku))
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.placed_at >= days.start, Order.placed_at < days.end)
            .group_by(OrderLine.sku, other.sku)
            .order_by(
                func.count(func.distinct(OrderLine.order_id)).desc(), OrderLine.sku, other.sku
            )
            .limit(limit)
        ).all()
    return [BoughtTogether(first, second, int(count)) for first, second, count in rows]
