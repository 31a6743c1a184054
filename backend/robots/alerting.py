"""Telling each group robot about trouble: grouped by kind, paced, said again only when new.

One message per kind of trouble per robot, never one per order: a storm of 500 stuck
orders is one message listing the worst first (cut to the robot's size limit, with a
count of the rest). A kind is sent again only when a trouble not in the last message
appears, and then no sooner than MIN_GAP after it; troubles that simply persist are
repeated every REPEAT_AFTER so a quiet group is not mistaken for a fixed problem. When a
kind clears, its record goes, so the next occurrence is news again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.notifications.base import NotificationError
from backend.operations import OperationsRules
from backend.robots.base import RobotMessage, RobotSender
from backend.robots.models import RobotAlert
from backend.robots.troubles import Trouble, TroubleKind, gather, stuck_orders

log = logging.getLogger(__name__)

SEND = "robots.alert"  # periodic job
WEEKLY = "robots.weekly_report"  # periodic job; sends on Monday morning, once a week
MIN_GAP = timedelta(minutes=10)
REPEAT_AFTER = timedelta(hours=4)
WEEKLY_AT = (0, 9)  # Monday 09:00 Shanghai (weekday, hour)
WEEKLY_KIND = "weekly_report"
TOP = 10

TITLES: dict[TroubleKind, str] = {
    TroubleKind.STUCK_ORDERS: "{n} 单超过处理时限",
    TroubleKind.DEAD_JOBS: "{n} 个后台任务已放弃重试",
    TroubleKind.QUIET_CHANNELS: "{n} 个销售渠道长时间没有新订单",
    TroubleKind.REFUSED_CONFIRMATIONS: "{n} 个发货回传被渠道拒绝",
    TroubleKind.REGIONAL_STALL: "{n} 个省份的包裹停滞",
    TroubleKind.OPEN_BREAKERS: "{n} 个外部服务熔断中",
}
# Where staff act on each kind: the message's link.
PAGES: dict[TroubleKind, str] = {
    TroubleKind.STUCK_ORDERS: "/admin/operations",
    TroubleKind.DEAD_JOBS: "/admin/jobs",
    TroubleKind.QUIET_CHANNELS: "/admin/operations",
    TroubleKind.REFUSED_CONFIRMATIONS: "/admin/confirmations",
    TroubleKind.REGIONAL_STALL: "/admin/exceptions",
    TroubleKind.OPEN_BREAKERS: "/admin/integrations",
}


def is_due(last_sent: datetime | None, last_keys: set[str], keys: list[str], now: datetime) -> bool:
    if not keys:
        return False
    if last_sent is None:
        return True
    if now - last_sent < MIN_GAP:
        return False
    return bool(set(keys) - last_keys) or now - last_sent >= REPEAT_AFTER


def build_message(kind: TroubleKind, troubles: list[Trouble], base_url: str) -> RobotMessage:
    return RobotMessage(
        TITLES[kind].format(n=len(troubles)),
        tuple(trouble.line for trouble in troubles),
        base_url.rstrip("/") + PAGES[kind],
    )


def _last(database: Database, robot: str, kind: str) -> tuple[datetime | None, set[str]]:
    with database.read() as session:
        row = session.scalars(
            select(RobotAlert).where(RobotAlert.robot == robot, RobotAlert.kind == kind)
        ).first()
        return (row.sent_at, set(row.keys)) if row else (None, set())


def _remember(database: Database, robot: str, kind: str, keys: list[str], now: datetime) -> None:
    with database.write() as session:
        row = session.scalars(
            select(RobotAlert)
            .where(RobotAlert.robot == robot, RobotAlert.kind == kind)
            .with_for_update()
        ).first()
        if row is None:
            session.add(RobotAlert(robot=robot, kind=kind, keys=keys, sent_at=now))
        else:
            row.keys, row.sent_at = keys, now


def _forget(database: Database, robot: str, kind: str) -> None:
    with database.write() as session:
        session.execute(
            delete(RobotAlert).where(RobotAlert.robot == robot, RobotAlert.kind == kind)
        )


def _send(robot: RobotSender, message: RobotMessage) -> bool:
    try:
        robot.send(message)
    except NotificationError as error:
        # Told again next minute: the record is only written once a robot took the message.
        log.warning("robot %s did not take %r: %s", robot.provider, message.title, error)
        return False
    return True


def send_alerts(
    database: Database,
    robots: Mapping[str, RobotSender],
    base_url: str,
    now: datetime | None = None,
    rules: OperationsRules | None = None,
) -> int:
    """The periodic job: returns how many messages the robots took."""
    if not robots:
        return 0
    now = now or utcnow()
    troubles = gather(database, now, rules)
    sent = 0
    for name, robot in robots.items():
        for kind, items in troubles.items():
            keys = [trouble.key for trouble in items]
            last_sent, last_keys = _last(database, name, kind)
            if not keys:
                if last_sent is not None:
                    _forget(database, name, kind)
                continue
            if not is_due(last_sent, last_keys, keys, now):
                continue
            if _send(robot, build_message(kind, items, base_url)):
                _remember(database, name, kind, keys, now)
                sent += 1
    return sent


def weekly_report(
    database: Database, base_url: str, now: datetime, rules: OperationsRules | None = None
) -> RobotMessage:
    """每周复盘: how many orders are stuck for each cause, and the ten longest overdue."""
    stuck = stuck_orders(database, now, rules)
    causes = Counter(trouble.group for trouble in stuck)
    lines = [f"{cause}：{count} 单" for cause, count in causes.most_common()]
    lines += [f"{index}. {trouble.line}" for index, trouble in enumerate(stuck[:TOP], start=1)]
    week = now.astimezone(SHANGHAI).isocalendar()
    return RobotMessage(
        f"每周复盘 {week.year} 第 {week.week} 周：{len(stuck)} 单超时",
        tuple(lines) or ("本周没有超时订单",),
        base_url.rstrip("/") + PAGES[TroubleKind.STUCK_ORDERS],
    )


def send_weekly_report(
    database: Database,
    robots: Mapping[str, RobotSender],
    base_url: str,
    now: datetime | None = None,
    rules: OperationsRules | None = None,
) -> int:
    """Runs hourly; on Monday from 09:00 Shanghai each robot gets the week's report once."""
    now = now or utcnow()
    local = now.astimezone(SHANGHAI)
    if (local.weekday(), local.hour) < WEEKLY_AT or local.weekday() != WEEKLY_AT[0]:
        return 0
    week = "{}-W{:02d}".format(*local.isocalendar()[:2])
    sent = 0
    for name, robot in robots.items():
        _, weeks = _last(database, name, WEEKLY_KIND)
        if week in weeks:
            continue
        if _send(robot, weekly_report(database, base_url, now, rules)):
            _remember(database, name, WEEKLY_KIND, [week], now)
            sent += 1
    return sent
