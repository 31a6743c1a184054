"""What the order and address pages say after the lock, a lost race, or a decision on a request."""

import re
from datetime import timedelta

from sqlalchemy import select, update
from starlette.testclient import TestClient

from backend.clock import utcnow
from backend.logistics.warehouse import scan_parcel
from backend.orders.address_changes import AddressChange
from backend.orders.lifecycle import OrderAction, OrderStatus
from backend.orders.models import Order
from backend.orders.service import apply_action
from backend.staff.models import Role
from portal.app import create_app
from portal.rendering import local_time
from tests.factories import SYSTEM, make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login
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


def request_after_the_window(client, database):
    """A customer's change after the self-service window: filed for staff, through the pages."""
    order = make_order(database, status=OrderStatus.PAID)
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(paid_at=order.paid_at - timedelta(hours=3))
        )
    open_short_link(client, database, order.id)
    path = f"/orders/{order.public_no}/address"
    change_id = re.search(
        r'name="change_id" value="(\d+)"', post(client, path, form_values()).text
    ).group(1)
    done = post(client, path + "/confirm", {"change_id": change_id, "code": sent_code(database)})
    assert done.headers["hx-redirect"].endswith("?notice=address_requested")
    return order, int(change_id)


def staff_decides(settings, database, change_id, verdict, reason=""):
    """Support answers in its own browser, as a colleague at a desk would."""
    with TestClient(create_app(settings, database)) as desk:
        staff_login(desk, database, Role.SUPPORT)
        token = csrf_token(desk, "/admin/address-requests")
        answer = desk.post(
            f"/admin/address-requests/{change_id}",
            data={"verdict": verdict, "reason": reason, "csrf_token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 303


def address_card(html: str) -> str:
    return re.search(r'<section id="address".*?</section>', html, re.S).group(0)


def test_after_support_approves_the_request_the_page_says_so_and_shows_the_new_address(
    client, database, settings
):
    order, change_id = request_after_the_window(client, database)
    staff_decides(settings, database, change_id, "approve")
    card = address_card(client.get(f"/orders/{order.public_no}").text)
    assert "客服已同意您的地址修改申请，新地址已生效" in card
    assert "李*" in card and "139****5678" in card
    assert "审核中" not in card and "未通过" not in card


def test_after_support_rejects_the_request_the_page_gives_the_reason(client, database, settings):
    order, change_id = request_after_the_window(client, database)
    staff_decides(settings, database, change_id, "reject", reason="该地址超出配送范围")
    card = address_card(client.get(f"/orders/{order.public_no}").text)
    assert "您的地址修改申请未通过：该地址超出配送范围" in card
    assert "张*" in card and "新地址已生效" not in card


def test_a_rejection_without_a_reason_is_still_a_whole_sentence(client, database, settings):
    order, change_id = request_after_the_window(client, database)
    staff_decides(settings, database, change_id, "reject")
    card = address_card(client.get(f"/orders/{order.public_no}").text)
    assert "您的地址修改申请未通过。" in card
    assert "：<" not in card and "： " not in card


def test_while_a_redirect_request_waits_the_page_says_so_and_offers_no_second_one(client, database):
    order = make_order(database, status=OrderStatus.PAID)
    open_short_link(client, database, order.id)
    scan_parcel(database, order.public_no, SYSTEM)
    path = f"/orders/{order.public_no}/address"
    change_id = re.search(
        r'name="change_id" value="(\d+)"', post(client, path, form_values()).text
    ).group(1)
    done = post(client, path + "/confirm", {"change_id": change_id, "code": sent_code(database)})
    assert done.headers["hx-redirect"].endswith("?notice=intercept_requested")
    card = address_card(client.get(f"/orders/{order.public_no}").text)
    assert "拦截改派申请审核中" in card
    assert "?intercept=1" not in card
    again = post(client, path, form_values(name="王五"))
    assert again.status_code == 409
    with database.read() as session:
        waiting = session.scalars(
            select(AddressChange.status).where(AddressChange.order_id == order.id)
        ).all()
    assert waiting == ["pending_approval"]
