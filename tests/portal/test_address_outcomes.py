"""What the order and address pages say after the lock, a lost race, or a decision on a request."""

import re

from sqlalchemy import update

from backend.db import utcnow
from backend.logistics.warehouse import scan_parcel
from backend.orders.lifecycle import OrderAction, OrderStatus
from backend.orders.models import Order
from backend.orders.service import apply_action
from portal.rendering import local_time
from tests.factories import SYSTEM, make_order
from tests.portal.helpers import open_short_link
from tests.portal.test_address_routes import form_values, post, sent_code

LOCK = re.compile(r"已于 (\d\d-\d\d \d\d:\d\d) 在仓库打包，地址已锁定")


def test_an_order_packed_without_a_scan_says_when_it_was_packed(client, database):
    order = make_order(database, status=OrderStatus.PACKED)  # packed by the lifecycle, no scan
    assert order.address_locked_at is None and order.packed_at is not None
    open_short_link(client, database, order.id)
    html = client.get(f"/orders/{order.public_no}").text
    assert LOCK.search(html).group(1) == local_time(order.packed_at, "%m-%d %H:%M")
    assert "已于  " not in html and "申请拦截改派" in html


def test_an_order_packed_at_an_unknown_time_says_it_is_packed_without_a_hole(client, database):
    order = make_order(database, status=OrderStatus.PACKED)
    with database.write() as session:
        session.execute(update(Order).where(Order.id == order.id).values(packed_at=None))
    open_short_link(client, database, order.id)
    html = client.get(f"/orders/{order.public_no}").text
    assert "订单已打包，地址已锁定" in html
    assert "已于" not in html


def test_a_change_that_loses_to_a_pack_without_a_scan_gets_the_whole_sentence(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    open_short_link(client, database, order.id)
    path = f"/orders/{order.public_no}/address"
    change_id = re.search(
        r'name="change_id" value="(\d+)"', post(client, path, form_values()).text
    ).group(1)
    apply_action(database, order.id, OrderAction.PACK, SYSTEM, at=utcnow())
    lost = post(client, path + "/confirm", {"change_id": change_id, "code": sent_code(database)})
    assert lost.status_code == 409
    assert LOCK.search(lost.text), lost.text
    assert "Project-Id-Version" not in lost.text


def test_without_javascript_the_lost_race_page_has_one_way_back_and_no_countdown(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    open_short_link(client, database, order.id)
    path = f"/orders/{order.public_no}/address"
    code_page = post(client, path, form_values(), htmx=False)
    change_id = re.search(r'name="change_id" value="(\d+)"', code_page.text).group(1)
    scan_parcel(database, order.public_no, SYSTEM)
    lost = post(
        client,
        path + "/confirm",
        {"change_id": change_id, "code": sent_code(database)},
        htmx=False,
    )
    assert lost.status_code == 409 and LOCK.search(lost.text)
    assert lost.text.count("返回订单") == 1
    assert "还可修改" not in lost.text


def test_with_htmx_the_refusal_replaces_the_whole_step(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    open_short_link(client, database, order.id)
    path = f"/orders/{order.public_no}/address"
    change_id = re.search(
        r'name="change_id" value="(\d+)"', post(client, path, form_values()).text
    ).group(1)
    scan_parcel(database, order.public_no, SYSTEM)
    lost = post(client, path + "/confirm", {"change_id": change_id, "code": sent_code(database)})
    assert lost.headers["hx-retarget"] == "#address_step"
    assert lost.headers["hx-reswap"] == "outerHTML"
    assert re.match(r'\s*(<!--.*?-->\s*)?<section id="address_step"', lost.text, re.S)
    assert "返回订单" not in lost.text  # the page keeps its own link below the step
