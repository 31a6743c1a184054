"""The self-service funnel (自助漏斗): links opened, pages viewed, actions taken, messages sent.

Whether customers help themselves is what the portal is for: every tracking-page view
and every return filed by the customer is a call support did not take. Link opens and
page views are counted per Shanghai day (FunnelCount, added to in batches by each
process: portal/funnel_counter.py); actions and messages are counted from the rows they
made, in the same range, so they are exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, Database, EnumText
from backend.exchanges.models import Exchange
from backend.invoices.models import InvoiceRequest
from backend.orders.models import AddressChange
from backend.refunds.models import OrderCancellation, ReturnRequest
from backend.support.models import SupportRequest


class FunnelStep(StrEnum):
    LINK_OPENED = "link_opened"  # an SMS or WeChat link, or the lookup form, let a customer in
    PAGE_VIEWED = "page_viewed"  # an order's tracking page shown to its customer


class FunnelCount(Base):
    __tablename__ = "funnel_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)  # Shanghai
    step: Mapped[FunnelStep] = mapped_column(EnumText(FunnelStep, 20), primary_key=True)
    # One row per day and step, whatever the traffic: processes add their batches to it.
    count: Mapped[int] = mapped_column(default=0)


def add_counts(database: Database, counts: Mapping[tuple[date, FunnelStep], int]) -> None:
    """Adds a process's counts since its last flush; one upsert per (day, step)."""
    if not counts:
        return
    insert = pg_insert if database.engine.dialect.name == "postgresql" else sqlite_insert
    with database.write() as session:
        for (day, step), count in sorted(counts.items()):
            statement = insert(FunnelCount).values(day=day, step=step, count=count)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[FunnelCount.day, FunnelCount.step],
                    set_={"count": FunnelCount.count + statement.excluded.count},
                )
            )


@dataclass(frozen=True)
class Funnel:
    links_opened: int
    pages_viewed: int
    actions: int  # returns, address changes, cancels, exchanges, invoice requests
    messages: int  # messages and 催发货 to support

    @property
    def messages_per_action(self) -> float | None:
        """Calls support still took for every thing customers did themselves."""
        return self.messages / self.actions if self.actions else None


def _by_customer(column: Any) -> Any:
    return column.like("customer:%")


def funnel_for(
    database: Database, first: date, last: date, start: datetime, end: datetime
) -> Funnel:
    """Shanghai days first..last (the counters), and the instants [start, end) (the rows)."""

    def made(column: Any) -> Any:
        return (column >= start) & (column < end)

    with database.read() as session:
        counted = dict(
            session.execute(
                select(FunnelCount.step, func.sum(FunnelCount.count))
                .where(FunnelCount.day >= first, FunnelCount.day <= last)
                .group_by(FunnelCount.step)
            ).all()
        )
        actions = session.execute(
            select(
                select(func.count(ReturnRequest.id))
                .where(made(ReturnRequest.created_at))
                .scalar_subquery(),
                select(func.count(AddressChange.id))
                .where(made(AddressChange.created_at), _by_customer(AddressChange.requested_by))
                .scalar_subquery(),
                select(func.count(OrderCancellation.id))
                .where(
                    made(OrderCancellation.created_at),
                    _by_customer(OrderCancellation.requested_by),
                )
                .scalar_subquery(),
                select(func.count(Exchange.id)).where(made(Exchange.created_at)).scalar_subquery(),
                select(func.count(InvoiceRequest.id))
                .where(made(InvoiceRequest.created_at))
                .scalar_subquery(),
                select(func.count(SupportRequest.id))
                .where(made(SupportRequest.created_at))
                .scalar_subquery(),
            )
        ).one()
    return Funnel(
        links_opened=int(counted.get(FunnelStep.LINK_OPENED, 0) or 0),
        pages_viewed=int(counted.get(FunnelStep.PAGE_VIEWED, 0) or 0),
        actions=sum(int(n or 0) for n in actions[:5]),
        messages=int(actions[5] or 0),
    )
