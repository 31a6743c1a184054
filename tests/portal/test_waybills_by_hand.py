"""Staff type a waybill on the order page: one parcel with the chosen items, tracked at once."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from backend.jobs.models import Job
from backend.logistics.models import Shipment, ShipmentLine
from backend.logistics.service import SUBSCRIBE
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, OrderLine
from backend.orders.service import NewLine
from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import csrf_token, staff_login

UNNAMED = "请选择快递公司：仅凭单号无法判断。"
LINES = [NewLine("TEE-M", "T恤 M", 2, 9900), NewLine("CAP", "帽子", 1, 4900)]


def _record(client, order_id, **fields):
    page = f"/admin/orders/{order_id}"
    data = {"csrf_token": csrf_token(client, page), **fields}
    response = client.post(f"{page}/waybills", data=data, follow_redirects=True)
    assert response.status_code == 200
    flash = re.search(r'<p class="flash" role="status">([^<]+)</p>', response.text)
    return flash.group(1) if flash else None, response.text


def _line_ids(database, order_id):
    with database.read() as session:
        rows = session.execute(
            select(OrderLine.sku, OrderLine.id).where(OrderLine.order_id == order_id)
        )
        return {sku: line_id for sku, line_id in rows}


def test_a_waybill_typed_by_the_warehouse_makes_a_tracked_parcel_of_the_chosen_items(
    client, database
):
    order = make_order(database, lines=LINES)
    staff_login(client, database, Role.WAREHOUSE)
    line = _line_ids(database, order.id)
    flash, page = _record(
        client,
        order.id,
        carrier="shunfeng",
        waybill=" sf1234 5678 90123 ",
        **{f"qty_{line['TEE-M']}": "2", f"qty_{line['CAP']}": "0"},
    )
    assert flash == "运单已登记：包裹开始跟踪，销售渠道将收到发货通知。"
    assert "SF1234567890123" in page and "部分发货" in page
    with database.read() as session:
        shipment = session.scalars(select(Shipment)).one()
        carried = session.execute(select(ShipmentLine.order_line_id, ShipmentLine.quantity)).all()
        subscribed = session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == SUBSCRIBE)
        )
        status = session.scalar(select(Order.status).where(Order.id == order.id))
    assert (shipment.carrier_code, shipment.source) == ("shunfeng", "manual")
    assert [tuple(row) for row in carried] == [(line["TEE-M"], 2)]
    assert subscribed == 1 and status == OrderStatus.PARTIALLY_SHIPPED
    # The form now offers only the cap; recording it again with the same number changes nothing.
    assert f"qty_{line['TEE-M']}" not in page and f"qty_{line['CAP']}" in page
    flash, _ = _record(
        client,
        order.id,
        carrier="shunfeng",
        waybill="SF1234567890123",
        **{f"qty_{line['CAP']}": "1"},
    )
    assert flash == "该运单已在本订单上，未作更改。"


def test_a_waybill_of_another_order_and_garbage_are_refused_with_a_message(client, database):
    order, other = make_order(database), make_order(database, phone="13900139000")
    staff_login(client, database, Role.WAREHOUSE)
    line = next(iter(_line_ids(database, order.id).values()))
    other_line = next(iter(_line_ids(database, other.id).values()))
    assert _record(
        client,
        other.id,
        carrier="yuantong",
        waybill="YT1234567890123",
        **{f"qty_{other_line}": "1"},
    )[0].startswith("运单已登记")
    cases = [
        (
            {"carrier": "yuantong", "waybill": "YT1234567890123"},
            "该运单号已用于其他订单，请核对号码。",
        ),
        ({"carrier": "", "waybill": "768012345678"}, UNNAMED),
        (
            {"carrier": "yuantong", "waybill": "<b>x</b>"},
            "运单号格式不对：只能是 6 到 32 位字母和数字。",
        ),
        (
            {"carrier": "yuantong" * 20, "waybill": "YT1234567890999"},
            "请选择快递公司：仅凭单号无法判断。",
        ),
    ]
    for fields, message in cases:
        assert _record(client, order.id, **fields, **{f"qty_{line}": "1"})[0] == message
    assert (
        _record(
            client,
            order.id,
            carrier="yuantong",
            waybill="YT1234567890999",
            **{f"qty_{line}": "abc"},
        )[0]
        == "请至少为包裹选择一件商品。"
    )
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Shipment)) == 1


def test_support_sees_no_form_and_its_post_is_forbidden(client, database):
    order = make_order(database)
    staff_login(client, database, Role.SUPPORT)
    page = client.get(f"/admin/orders/{order.id}")
    assert page.status_code == 200 and "waybill-form" not in page.text
    response = client.post(
        f"/admin/orders/{order.id}/waybills",
        data={
            "csrf_token": csrf_token(client, f"/admin/orders/{order.id}"),
            "carrier": "shunfeng",
            "waybill": "SF1234567890123",
        },
        follow_redirects=False,
    )
    assert response.status_code == 403
