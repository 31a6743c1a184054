"""Trouble reaches the WeCom and DingTalk emulators as one grouped, paced message per kind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, select, update

from backend.breaker import Breaker
from backend.breaker_states import BreakerStateRecorder, BreakerStateRow
from backend.clock import SHANGHAI
from backend.jobs.models import Job, JobStatus
from backend.logistics.models import Shipment
from backend.logistics.status import TrackingStatus
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import ChannelEvent, IntakeOutcome, Order, SalesChannel
from backend.robots import alerting
from backend.robots.dingtalk import DingTalkRobot
from backend.robots.troubles import STALL_MIN_PARCELS
from backend.robots.wecom import WeComRobot
from emulators.robots import DEMO_DINGTALK_ROBOTS, DEMO_WECOM_KEYS, RobotEmulator
from emulators.serving import serve_in_thread
from tests.factories import SYSTEM, create_shipment, make_order

# A Tuesday afternoon in Shanghai: inside working hours, so SLA clocks run.
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=SHANGHAI)
BASE = "https://shop.example"


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def emulator() -> RobotEmulator:
    # The emulator's clock is the test's, so DingTalk's timestamp check and the 20-a-minute
    # limit both follow the simulated time.
    return RobotEmulator(clock=Clock())


@pytest.fixture
def robots(emulator: RobotEmulator) -> Iterator[dict[str, object]]:
    token, secret = next(iter(DEMO_DINGTALK_ROBOTS.items()))
    with serve_in_thread(emulator.app()) as url, httpx.Client() as http:
        yield {
            "wecom": WeComRobot(http, DEMO_WECOM_KEYS[0], base_url=url),
            "dingtalk": DingTalkRobot(
                http, token, secret, base_url=url, clock_ms=lambda: int(emulator.clock() * 1000)
            ),
        }


def run(database, robots, emulator, at: datetime) -> int:
    emulator.clock.now = at.timestamp()
    return alerting.send_alerts(database, robots, BASE, now=at)


def stuck_order(database, hours: float = 3):
    order = make_order(database, status=OrderStatus.PAID)
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(status_changed_at=NOW - timedelta(hours=hours))
        )
    return order


def by_robot(emulator: RobotEmulator, robot: str):
    return [post for post in emulator.messages if post.robot == robot]


def test_a_stuck_order_is_one_message_at_each_robot_with_a_link_to_act(database, robots, emulator):
    order = stuck_order(database)
    assert run(database, robots, emulator, NOW) == 2
    for robot in ("wecom", "dingtalk"):
        (post,) = by_robot(emulator, robot)
        assert order.public_no in post.text and "待拣货 超时" in post.text
        assert f"({BASE}/admin/operations)" in post.text
    assert by_robot(emulator, "dingtalk")[0].title == "1 单超过处理时限"


def test_a_trouble_already_told_is_not_told_again_until_something_new_or_hours_pass(
    database, robots, emulator
):
    stuck_order(database)
    run(database, robots, emulator, NOW)
    assert run(database, robots, emulator, NOW + timedelta(minutes=1)) == 0
    newer = stuck_order(database, hours=1)
    # New, but within ten minutes of the last message: it waits.
    assert run(database, robots, emulator, NOW + timedelta(minutes=5)) == 0
    assert run(database, robots, emulator, NOW + timedelta(minutes=11)) == 2
    assert newer.public_no in by_robot(emulator, "wecom")[-1].text
    assert run(database, robots, emulator, NOW + timedelta(hours=2)) == 0
    assert run(database, robots, emulator, NOW + timedelta(minutes=11, hours=4)) == 2


def test_a_cleared_trouble_is_news_again_when_it_comes_back(database, robots, emulator):
    order = stuck_order(database)
    run(database, robots, emulator, NOW)
    with database.write() as session:
        session.execute(update(Order).where(Order.id == order.id).values(status_changed_at=NOW))
    assert run(database, robots, emulator, NOW + timedelta(minutes=1)) == 0
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(status_changed_at=NOW - timedelta(hours=3))
        )
    assert run(database, robots, emulator, NOW + timedelta(minutes=12)) == 2


def test_a_dead_job_a_quiet_channel_and_a_refused_nothing_are_grouped_by_kind(
    database, robots, emulator
):
    with database.write() as session:
        for number in range(3):
            session.add(Job(kind="outbox.send", status=JobStatus.DEAD, key=f"dead-{number}"))
        session.add(
            ChannelEvent(
                channel=SalesChannel.JD,
                body="{}",
                outcome=IntakeOutcome.CREATED,
                received_at=NOW - timedelta(hours=2),
            )
        )
    assert run(database, robots, emulator, NOW) == 4
    texts = [post.text for post in by_robot(emulator, "wecom")]
    (jobs,) = [text for text in texts if "后台任务" in text]
    assert jobs.count("outbox.send #") == 3 and f"({BASE}/admin/jobs)" in jobs
    (quiet,) = [text for text in texts if "没有新订单" in text]
    assert "jd" in quiet


def test_many_parcels_stalled_in_one_province_are_one_line_not_one_each(database, robots, emulator):
    for number in range(STALL_MIN_PARCELS + 3):
        order = make_order(database, status=OrderStatus.PACKED)
        shipment_id = create_shipment(database, order.id, "yunda", f"YD{number:08d}", SYSTEM)
        with database.write() as session:
            session.execute(
                update(Shipment)
                .where(Shipment.id == shipment_id)
                .values(
                    status=TrackingStatus.IN_TRANSIT,
                    last_event_at=NOW - timedelta(hours=50),
                    label_created_at=NOW - timedelta(hours=60),
                )
            )
    run(database, robots, emulator, NOW)
    (stall,) = [p.text for p in by_robot(emulator, "wecom") if "停滞" in p.text]
    assert f"浙江省：{STALL_MIN_PARCELS + 3} 件包裹" in stall
    assert stall.count("件包裹") == 1 and f"({BASE}/admin/exceptions)" in stall


def test_a_storm_of_500_stuck_orders_is_a_bounded_number_of_messages(database, robots, emulator):
    first = stuck_order(database)
    with database.read() as session:
        row = session.execute(select(Order.__table__).where(Order.id == first.id)).mappings().one()
    copies = [
        {**row, "id": None, "public_no": f"S{n:07d}", "channel_order_no": f"STORM{n}"}
        for n in range(499)
    ]
    for copy in copies:
        copy.pop("id")
    with database.write() as session:
        session.execute(insert(Order.__table__), copies)
    # An hour of the periodic job, one run a minute, with the storm growing all along.
    for minute in range(60):
        if minute % 5 == 0:
            stuck_order(database)
        run(database, robots, emulator, NOW + timedelta(minutes=minute))
    for robot in ("wecom", "dingtalk"):
        posts = by_robot(emulator, robot)
        # The first message, then at most one every ten minutes for what is new.
        assert 1 < len(posts) <= 7
        assert posts[0].text.startswith("### 501 单超过处理时限")
        assert "另有" in posts[0].text


def test_the_weekly_report_goes_once_on_monday_morning(database, robots, emulator):
    stuck_order(database, hours=50)  # paid on Saturday afternoon
    monday_early = datetime(2026, 11, 30, 8, 30, tzinfo=SHANGHAI)
    monday = datetime(2026, 11, 30, 9, 5, tzinfo=SHANGHAI)
    emulator.clock.now = monday.timestamp()
    assert alerting.send_weekly_report(database, robots, BASE, now=monday_early) == 0
    assert alerting.send_weekly_report(database, robots, BASE, now=monday) == 2
    assert alerting.send_weekly_report(database, robots, BASE, now=monday + timedelta(hours=1)) == 0
    post = by_robot(emulator, "dingtalk")[0]
    assert post.title.startswith("每周复盘 2026 第 49 周")
    assert "待拣货：1 单" in post.text and "1. " in post.text


def test_breakers_open_in_any_process_are_one_message_linking_the_integration_page(
    database, robots, emulator
):
    for process, name in (("web:1", "sf"), ("worker:2", "sf"), ("worker:2", "wechat:wx1")):
        recorder = BreakerStateRecorder(database, process)
        Breaker(name, threshold=1, on_change=recorder).record_failure()
        recorder.close()
    closed = BreakerStateRecorder(database, "web:1")
    breaker = Breaker("kuaidi100", threshold=1, on_change=closed)
    breaker.record_failure()
    breaker.record_success()
    closed.close()
    with database.write() as session:
        session.execute(update(BreakerStateRow).values(changed_at=NOW - timedelta(minutes=2)))
    assert run(database, robots, emulator, NOW) == 2  # one message per robot
    (text,) = [post.text for post in by_robot(emulator, "wecom")]
    assert "2 个外部服务熔断中" in text and f"({BASE}/admin/integrations)" in text
    assert "sf 已熔断，暂停调用" in text and "（2 个进程）" in text
    assert "wechat:wx1" in text and "kuaidi100" not in text
    assert run(database, robots, emulator, NOW + timedelta(minutes=1)) == 0  # told already
