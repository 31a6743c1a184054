"""The warehouse scan page: roles, scanning by order or waybill, the reprint warning."""

from sqlalchemy import select

from backend.jobs.models import Job
from backend.orders import address_changes as changes
from backend.orders.address_policy import AddressRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.orders.service import NewAddress
from backend.staff.models import Role
from tests.factories import SYSTEM, create_label, make_order
from tests.portal.helpers import csrf_token, staff_login


def scan(client, code):
    token = csrf_token(client, "/warehouse/scan")
    return client.post(
        "/warehouse/scan",
        data={"code": code},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )


def test_only_warehouse_staff_and_supervisors_may_scan(client, database):
    assert client.get("/warehouse/scan", follow_redirects=False).status_code == 303
    staff_login(client, database, Role.FINANCE)
    assert client.get("/warehouse/scan").status_code == 403


def test_scanning_an_order_number_packs_it_and_shows_the_address(client, database):
    order = make_order(database, status=OrderStatus.PICKING, name="赵六")
    staff_login(client, database, Role.WAREHOUSE)
    first = scan(client, order.public_no)
    assert first.status_code == 200 and first.text.lstrip().startswith('<div id="scan_result"')
    assert (
        "已打包，地址已锁定" in first.text and "赵六" in first.text and "文三路100号" in first.text
    )
    again = scan(client, f"  {order.public_no.lower()} ")
    assert "已于" in again.text and "打包" in again.text
    with database.read() as session:
        stored = session.get(Order, order.id)
    assert stored.status == OrderStatus.PACKED and stored.address_locked_at is not None


def test_a_waybill_scan_finds_the_order_and_warns_when_the_label_is_stale(client, database):
    order = make_order(database, status=OrderStatus.PAID, phone="13800138000")
    shipment_id = create_label(database, order.id, "yuantong", "YT1234567890", SYSTEM)
    rules = AddressRules()
    started = changes.start_address_change(
        database,
        order.id,
        NewAddress("王五", "13711112222", "上海市", "上海市", "浦东新区", "张杨路500号"),
        SYSTEM,
        rules,
    )
    with database.read() as session:
        code = session.scalars(select(Job).where(Job.key == f"code:{started.change_id}")).one()
    changes.confirm_address_change(
        database, order.id, started.change_id, code.payload["code"], SYSTEM, rules
    )
    staff_login(client, database, Role.WAREHOUSE)
    result = scan(client, "YT1234567890")
    assert "面单打印后地址已变更" in result.text and "张杨路500号" in result.text
    token = csrf_token(client, "/warehouse/scan")
    client.post(f"/warehouse/shipments/{shipment_id}/reprinted", headers={"X-CSRF-Token": token})
    assert "面单打印后地址已变更" not in scan(client, "YT1234567890").text


def test_unknown_numbers_and_cancelled_orders_are_refused_plainly(client, database):
    cancelled = make_order(database, status=OrderStatus.CANCELLED)
    staff_login(client, database, Role.WAREHOUSE)
    unknown = scan(client, "NO-SUCH-THING")
    assert unknown.status_code == 404 and "没有找到" in unknown.text
    refused = scan(client, cancelled.public_no)
    assert refused.status_code == 409 and "请勿打包" in refused.text and "已取消" in refused.text
    for garbage in ("", "<script>", "x" * 500):
        assert scan(client, garbage).status_code in (404, 422)


def test_recent_scans_are_listed(client, database):
    orders = [make_order(database, status=OrderStatus.PAID) for _ in range(3)]
    staff_login(client, database, Role.WAREHOUSE)
    for order in orders:
        scan(client, order.public_no)
    page = client.get("/warehouse/scan").text
    assert all(order.public_no in page for order in orders)
