"""The customer's page of an order that travels in several parcels: every parcel, and what waits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from backend.clock import utcnow
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.lifecycle import OrderStatus
from backend.staff.models import Role
from backend.tracking_page import ProgressStep, progress_step
from tests.factories import SYSTEM, THREE_LINES, make_order, ship_in_parcels
from tests.portal.helpers import open_short_link, staff_login

THREE_PARCELS = [
    ("shunfeng", "SF1400000000001", {"TEA-LJ-250": 1}),
    ("zhongtong", "ZT7800000000002", {"CUP-GLASS": 2}),
    ("yunda", "YD4300000000003", {"TRAY-BAMBOO": 1}),
]


def events(database, carrier, number, *steps):
    """Carrier events on one parcel, `steps` as (hours ago, status, text), oldest first."""
    record_tracking_update(
        database,
        carrier,
        number,
        [
            CarrierEvent(utcnow() - timedelta(hours=hours), status, text, None, "杭州市")
            for hours, status, text in steps
        ],
        source="test",
        full_history=False,
        actor=SYSTEM,
    )


def three_parcel_order(database):
    order = make_order(database, status=OrderStatus.PAID, lines=THREE_LINES)
    ship_in_parcels(database, order.id, THREE_PARCELS)
    events(
        database, "shunfeng", "SF1400000000001", (30, TrackingStatus.DELIVERED, "已签收，本人签收")
    )
    events(
        database,
        "zhongtong",
        "ZT7800000000002",
        (5, TrackingStatus.IN_TRANSIT, "快件已到达杭州转运中心"),
    )
    events(database, "yunda", "YD4300000000003", (2, TrackingStatus.PICKED_UP, "快递员已揽收"))
    return order


def parcel_blocks(html: str) -> list[str]:
    return re.findall(r'<article class="parcel".*?</article>', html, flags=re.S)


def test_every_parcel_shows_its_items_carrier_waybill_and_status(client, database):
    order = three_parcel_order(database)
    open_short_link(client, database, order.id)
    html = client.get(f"/orders/{order.public_no}").text
    first, second, third = parcel_blocks(html)
    assert "包裹 1/3" in first and "明前西湖龙井 250g" in first and "×1" in first
    assert "顺丰速运" in first and "SF1400000000001" in first and "已签收" in first
    assert "双层玻璃茶杯" in second and "×2" in second and "中通快递" in second
    assert "ZT7800000000002" in second and "运输中" in second
    assert "竹制茶盘（大号）" in third and "韵达快递" in third and "YD4300000000003" in third
    assert "明前西湖龙井" not in second + third and "双层玻璃茶杯" not in first + third
    assert "您的订单共 3 个包裹。" in html and "还在等待发货" not in html
    assert "待发货" not in html
    assert html.count("<h1") == 1


def test_only_the_newest_parcel_still_on_its_way_shows_its_timeline_open(client, database):
    order = three_parcel_order(database)
    open_short_link(client, database, order.id)
    first, second, third = parcel_blocks(client.get(f"/orders/{order.public_no}").text)
    assert "<details" in first and "<details" in second and "<details" in third
    opened = [block for block in (first, second, third) if re.search(r"<details[^>]* open", block)]
    assert opened == [third]
    # Folded timelines are still in the page, for the customer to unfold.
    assert "已签收，本人签收" in first


def test_a_partly_shipped_order_lists_what_still_waits_and_says_so_in_its_steps(client, database):
    order = make_order(database, status=OrderStatus.PAID, lines=THREE_LINES)
    ship_in_parcels(database, order.id, [THREE_PARCELS[0]])
    open_short_link(client, database, order.id)
    html = client.get(f"/orders/{order.public_no}").text
    (parcel,) = parcel_blocks(html)
    assert "明前西湖龙井 250g" in parcel and "SF1400000000001" in parcel
    waiting = html[html.index('id="parcel-waiting-title"') :]
    assert waiting.index("待发货") < waiting.index("双层玻璃茶杯") < waiting.index("竹制茶盘")
    assert "×2" in waiting
    assert "已打包 1 个包裹，其余商品还在等待发货。" in html
    current = re.search(r'<li class="current" aria-current="step"><span>([^<]+)</span>', html)
    assert current is not None and current.group(1) == "部分发货"
    assert re.search(r'<p class="headline">部分发货</p>', html)


def test_carriers_are_named_in_the_pages_language(client, database):
    order = three_parcel_order(database)
    open_short_link(client, database, order.id)
    html = client.get(f"/language?to=en&next=/orders/{order.public_no}").text
    assert "SF Express" in html and "ZTO Express" in html and "Yunda Express" in html
    assert "Parcel 2 of 3" in html and "顺丰速运" not in html


def test_a_one_parcel_order_reads_as_before(client, database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    open_short_link(client, database, order.id)
    html = client.get(f"/orders/{order.public_no}").text
    (parcel,) = parcel_blocks(html)
    assert "包裹 1/" not in parcel and re.search(r"<details[^>]* open", parcel)
    assert "您的订单共" not in html


@pytest.mark.parametrize("parcels", [1, 3])
def test_the_tracking_page_costs_three_queries_however_many_parcels(client, database, parcels):
    order = make_order(database, status=OrderStatus.PAID, lines=THREE_LINES)
    ship_in_parcels(database, order.id, THREE_PARCELS[:parcels])
    for carrier, number, _ in THREE_PARCELS[:parcels]:
        events(database, carrier, number, (3, TrackingStatus.PICKED_UP, "已揽收"))
    open_short_link(client, database, order.id)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "PRAGMA")):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        page = client.get(f"/orders/{order.public_no}")
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert page.status_code == 200
    assert len(parcel_blocks(page.text)) == parcels
    assert len(statements) == 3, statements


@pytest.mark.parametrize(
    ("status", "parcels", "step"),
    [
        (OrderStatus.PARTIALLY_SHIPPED, [TrackingStatus.DELIVERED], ProgressStep.DISPATCHED),
        (OrderStatus.SHIPPED, [TrackingStatus.PENDING], ProgressStep.DISPATCHED),
        (OrderStatus.SHIPPED, [TrackingStatus.IN_TRANSIT], ProgressStep.IN_TRANSIT),
        (
            OrderStatus.SHIPPED,
            [TrackingStatus.DELIVERED, TrackingStatus.OUT_FOR_DELIVERY],
            ProgressStep.OUT_FOR_DELIVERY,
        ),
        (
            OrderStatus.SHIPPED,
            [TrackingStatus.DELIVERED, TrackingStatus.PENDING],
            ProgressStep.DISPATCHED,
        ),
        (OrderStatus.DELIVERED, [TrackingStatus.DELIVERED] * 3, ProgressStep.DELIVERED),
        (OrderStatus.PAID, [], ProgressStep.PAID),
    ],
)
def test_the_order_goes_no_further_than_its_slowest_parcel(status, parcels, step):
    assert progress_step(status, parcels) == step


def test_the_staff_order_page_lists_each_parcel_with_its_lines_and_what_waits(client, database):
    order = make_order(database, status=OrderStatus.PAID, lines=THREE_LINES)
    ship_in_parcels(database, order.id, THREE_PARCELS[:2])
    staff_login(client, database, Role.SUPPORT)
    html = client.get(f"/admin/orders/{order.id}").text
    section = html[html.index('<section id="parcels"') :]
    section = section[: section.index("</section>")]
    rows = re.findall(r"<tr>\s*<td>.*?</tr>", section, flags=re.S)
    assert len(rows) == 3
    assert (
        "顺丰速运" in rows[0] and "SF1400000000001" in rows[0] and "明前西湖龙井 250g ×1" in rows[0]
    )
    assert "中通快递" in rows[1] and "双层玻璃茶杯 ×2" in rows[1]
    assert "待发货" in rows[2] and "竹制茶盘（大号） ×1" in rows[2]
    assert html.count('<section id="parcels"') == 1
