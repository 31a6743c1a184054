"""The troubles staff are told about in their group: each with a stable key and one line.

Read from the same tables the admin pages read, so the message and the page it links to
agree. No staff names, no phones, no streets: a group chat is not a staff page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select

from backend.breaker import BreakerState
from backend.clock import SHANGHAI
from backend.db import Database
from backend.fulfilment.models import ConfirmationStatus, ShipConfirmationRecord
from backend.integration_health import list_breakers
from backend.jobs.models import Job, JobStatus
from backend.logistics.models import Shipment, ShipmentDirection
from backend.logistics.status import TERMINAL_TRACKING_STATUSES, TrackingStatus
from backend.operations import OperationsRules, list_queue, quiet_channels
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import AddressVersion, Order

# Parcels to one province with no carrier update for this long are a regional stall ...
STALL_AFTER = timedelta(hours=48)
# ... once there are this many: a few late parcels are the exceptions page's business.
STALL_MIN_PARCELS = 5


class TroubleKind(StrEnum):
    STUCK_ORDERS = "stuck_orders"
    DEAD_JOBS = "dead_jobs"
    QUIET_CHANNELS = "quiet_channels"
    REFUSED_CONFIRMATIONS = "refused_confirmations"
    REGIONAL_STALL = "regional_stall"
    OPEN_BREAKERS = "open_breakers"


@dataclass(frozen=True)
class Trouble:
    kind: TroubleKind
    key: str  # stable while the trouble lasts: "order:12", "job:40", "province:浙江省"
    line: str  # Chinese, as the group reads it
    group: str = ""  # what the weekly report counts by: the state a stuck order waits in


# The group is the merchant's own staff, in Chinese: its messages are written here, not
# translated by the portal, which never sees them.
WAITING_IN: dict[OrderStatus, str] = {
    OrderStatus.PENDING_PAYMENT: "待付款",
    OrderStatus.PAID: "待拣货",
    OrderStatus.PICKING: "拣货中",
    OrderStatus.PACKED: "已打包待揽收",
    OrderStatus.PARTIALLY_SHIPPED: "部分发货",
    OrderStatus.AFTER_SALE: "售后处理中",
}


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} 小时" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} 分钟"


def stuck_orders(
    database: Database, now: datetime, rules: OperationsRules | None = None
) -> list[Trouble]:
    late = [item for item in list_queue(database, now, rules) if item.overdue_by is not None]
    late.sort(key=lambda item: item.overdue_by or timedelta(0), reverse=True)
    troubles = []
    for item in late:
        status = OrderStatus(item.cause.removeprefix("stuck:"))
        waiting = WAITING_IN.get(status, str(status))
        troubles.append(
            Trouble(
                TroubleKind.STUCK_ORDERS,
                f"order:{item.order_id}",
                f"{item.public_no}（{item.channel}）{waiting} 超时 "
                f"{_hours(item.overdue_by or timedelta(0))}",
                group=waiting,
            )
        )
    return troubles


def dead_jobs(database: Database) -> list[Trouble]:
    with database.read() as session:
        rows = session.execute(
            select(Job.id, Job.kind).where(Job.status == JobStatus.DEAD).order_by(Job.id)
        ).all()
    return [
        Trouble(TroubleKind.DEAD_JOBS, f"job:{job_id}", f"{kind} #{job_id}")
        for job_id, kind in rows
    ]


def silent_channels(
    database: Database, now: datetime, rules: OperationsRules | None = None
) -> list[Trouble]:
    return [
        Trouble(
            TroubleKind.QUIET_CHANNELS,
            f"channel:{channel}",
            f"{channel} 最后一单在 {at.astimezone(SHANGHAI):%m-%d %H:%M}，"
            f"已 {_hours(now - at)} 没有新订单",
        )
        for channel, at in quiet_channels(database, now, rules)
    ]


def refused_confirmations(database: Database) -> list[Trouble]:
    with database.read() as session:
        rows = session.execute(
            select(
                ShipConfirmationRecord.id,
                ShipConfirmationRecord.platform,
                ShipConfirmationRecord.last_code,
                Order.public_no,
            )
            .join(Order, Order.id == ShipConfirmationRecord.order_id)
            .where(ShipConfirmationRecord.status == ConfirmationStatus.REFUSED)
            .order_by(ShipConfirmationRecord.id)
        ).all()
    return [
        Trouble(
            TroubleKind.REFUSED_CONFIRMATIONS,
            f"confirmation:{record_id}",
            f"{public_no} 发货回传被 {platform} 拒绝（{code or '无代码'}）",
        )
        for record_id, platform, code, public_no in rows
    ]


def regional_stalls(database: Database, now: datetime) -> list[Trouble]:
    """One trouble per province with many parcels out and no update: not one per parcel."""
    quiet_since = func.coalesce(Shipment.last_event_at, Shipment.label_created_at)
    waiting = [str(TrackingStatus.PENDING), str(TrackingStatus.INFO_RECEIVED)]
    with database.read() as session:
        rows = session.execute(
            select(AddressVersion.province, func.count(Shipment.id))
            .join(Order, Order.id == Shipment.order_id)
            .join(AddressVersion, AddressVersion.id == Order.current_address_id)
            .where(
                Shipment.direction == ShipmentDirection.OUTBOUND,
                Shipment.status.not_in([str(s) for s in TERMINAL_TRACKING_STATUSES] + waiting),
                quiet_since < now - STALL_AFTER,
            )
            .group_by(AddressVersion.province)
            .having(func.count(Shipment.id) >= STALL_MIN_PARCELS)
            .order_by(func.count(Shipment.id).desc())
        ).all()
    return [
        Trouble(
            TroubleKind.REGIONAL_STALL,
            f"province:{province}",
            f"{province}：{count} 件包裹 {_hours(STALL_AFTER)} 没有物流更新",
        )
        for province, count in rows
    ]


BREAKER_WORDS = {BreakerState.OPEN: "已熔断，暂停调用", BreakerState.HALF_OPEN: "试探恢复中"}


def open_breakers(database: Database, now: datetime) -> list[Trouble]:
    """Providers whose breaker is open (or on trial) in a process seen lately: one line each."""
    return [
        Trouble(
            TroubleKind.OPEN_BREAKERS,
            f"breaker:{provider.provider}",
            f"{provider.provider} {BREAKER_WORDS[provider.state]}，"
            f"自 {provider.since.astimezone(SHANGHAI):%m-%d %H:%M}（{provider.processes} 个进程）",
        )
        for provider in list_breakers(database, now)
        if provider.is_troubled
    ]


def gather(
    database: Database, now: datetime, rules: OperationsRules | None = None
) -> dict[TroubleKind, list[Trouble]]:
    return {
        TroubleKind.STUCK_ORDERS: stuck_orders(database, now, rules),
        TroubleKind.DEAD_JOBS: dead_jobs(database),
        TroubleKind.QUIET_CHANNELS: silent_channels(database, now, rules),
        TroubleKind.REFUSED_CONFIRMATIONS: refused_confirmations(database),
        TroubleKind.REGIONAL_STALL: regional_stalls(database, now),
        TroubleKind.OPEN_BREAKERS: open_breakers(database, now),
    }
