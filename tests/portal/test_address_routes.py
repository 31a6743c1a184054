"""The customer's address change through the pages: paste, code, outcome, and the lock."""

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.jobs.models import Job
from backend.logistics.warehouse import scan_parcel
from backend.orders.address_changes import SEND_CODE
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import AddressChange, AddressVersion, ChangeKind, ChangeStatus, Order
from backend.staff.models import Role
from portal.app import create_app
from tests.factories import SYSTEM, make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login

PASTED = "李四 13912345678 浙江省杭州市西湖区文三路100号"


def sent_code(database) -> str:
    with database.read() as session:
        job = session.scalars(
            select(Job).where(Job.kind == SEND_CODE).order_by(Job.id.desc())
        ).first()
    return job.payload["code"]


def versions(database, order_id) -> int:
    with database.read() as session:
        return session.scalar(
            select(func.count())
            .select_from(AddressVersion)
            .where(AddressVersion.order_id == order_id)
        )


def post(client, path, data, htmx=True):
    token = csrf_token(client, "/lookup")
    headers = {"HX-Request": "true", "X-CSRF-Token": token} if htmx else {}
    return client.post(
        path, data={**data, "csrf_token": token}, headers=headers, follow_redirects=False
    )


def form_values(
    province="浙江省",
    city="杭州市",
    district="西湖区",
    street="文三路100号",
    name="李四",
    phone="13912345678",
):
    return {
        "recipient_name": name,
        "phone": phone,
        "province": province,
        "city": city,
        "district": district,
        "street": street,
    }


@pytest.fixture
def paid_order(database, client):
    order = make_order(database, status=OrderStatus.PAID, phone="13800138000")
    open_short_link(client, database, order.id)
    return order


def test_the_tracking_page_offers_the_change_with_a_countdown(client, paid_order):
    html = client.get(f"/orders/{paid_order.public_no}").text
    assert "修改地址" in html
    assert re.search(r"还可修改 \d+小时\d+分", html)


def test_pasting_a_whole_address_fills_the_fields(client, paid_order):
    response = post(client, f"/orders/{paid_order.public_no}/address/parse", {"pasted": PASTED})
    html = response.text
    assert response.status_code == 200 and html.lstrip().startswith('<div id="address_form"')
    assert 'value="李四"' in html and 'value="13912345678"' in html
    assert '<option value="西湖区" selected>' in html and 'value="文三路100号"' in html


def test_a_change_in_the_window_applies_after_the_code(client, database, paid_order):
    path = f"/orders/{paid_order.public_no}/address"
    code_form = post(client, path, form_values())
    assert code_form.status_code == 200 and "138****8000" in code_form.text
    change_id = re.search(r'name="change_id" value="(\d+)"', code_form.text).group(1)
    done = post(
        client,
        path + "/confirm",
        {"change_id": change_id, "code": sent_code(database), "sent_to": "138****8000"},
    )
    assert done.headers["hx-redirect"].endswith("?notice=address_changed")
    page = client.get(done.headers["hx-redirect"]).text
    assert "地址已修改" in page and "李*" in page and "139****5678" in page
    assert versions(database, paid_order.id) == 2
    with database.read() as session:
        actions = set(
            session.scalars(select(AuditEvent.action).where(AuditEvent.order_id == paid_order.id))
        )
    assert {"address.code_sent", "address.changed"} <= actions


def test_a_wrong_code_is_counted_and_the_sixth_try_must_start_again(client, database, paid_order):
    path = f"/orders/{paid_order.public_no}/address"
    change_id = re.search(
        r'name="change_id" value="(\d+)"', post(client, path, form_values()).text
    ).group(1)
    right = sent_code(database)
    wrong = "000000" if right != "000000" else "111111"
    answers = [
        post(client, path + "/confirm", {"change_id": change_id, "code": wrong}).status_code
        for _ in range(5)
    ]
    assert answers == [422] * 5
    sixth = post(client, path + "/confirm", {"change_id": change_id, "code": right})
    assert sixth.status_code == 422 and "重新" in sixth.text
    assert versions(database, paid_order.id) == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (form_values(phone="12345"), "11位"),
        (form_values(district="火星区"), "请从列表中选择"),
        (form_values(street="路" * 5000), "太长"),
        (form_values(street="<script>alert(1)</script>"), "不允许"),
        (form_values(name=""), "收货人"),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(
    client, database, paid_order, values, message
):
    response = post(client, f"/orders/{paid_order.public_no}/address", values)
    assert response.status_code == 422
    assert message in response.text and "<script>alert(1)</script>" not in response.text
    assert versions(database, paid_order.id) == 1


def test_someone_elses_order_cannot_be_changed(client, database, paid_order):
    other = make_order(database, phone="13700000000")
    path = f"/orders/{other.public_no}/address"
    assert client.get(path).status_code == 404
    assert post(client, path, form_values()).status_code == 404
    assert versions(database, other.id) == 1


def test_after_the_pack_scan_the_page_explains_the_lock_and_offers_a_redirect(
    client, database, paid_order
):
    scan_parcel(database, paid_order.public_no, SYSTEM)
    html = client.get(f"/orders/{paid_order.public_no}").text
    assert "修改地址</a>" not in html
    assert re.search(r"已于 \d\d-\d\d \d\d:\d\d 在仓库打包，地址已锁定", html)
    assert "申请拦截改派" in html


def test_a_change_that_loses_the_race_to_the_scan_is_told_so(client, database, paid_order):
    path = f"/orders/{paid_order.public_no}/address"
    change_id = re.search(
        r'name="change_id" value="(\d+)"', post(client, path, form_values()).text
    ).group(1)
    scan_parcel(database, paid_order.public_no, SYSTEM)
    lost = post(client, path + "/confirm", {"change_id": change_id, "code": sent_code(database)})
    assert lost.status_code == 409
    assert re.search(r"已于 \d\d-\d\d \d\d:\d\d 在仓库打包，地址已锁定", lost.text)
    assert "?intercept=1" in lost.text
    assert versions(database, paid_order.id) == 1


def test_after_the_window_the_change_becomes_a_request_for_staff(client, database, paid_order):
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == paid_order.id)
            .values(paid_at=paid_order.paid_at - timedelta(hours=3))
        )
    path = f"/orders/{paid_order.public_no}/address"
    assert "由客服审核" in client.get(path).text
    change_id = re.search(
        r'name="change_id" value="(\d+)"', post(client, path, form_values()).text
    ).group(1)
    done = post(client, path + "/confirm", {"change_id": change_id, "code": sent_code(database)})
    assert done.headers["hx-redirect"].endswith("?notice=address_requested")
    assert "审核中" in client.get(f"/orders/{paid_order.public_no}").text
    with database.read() as session:
        assert session.get(AddressChange, int(change_id)).status == "pending_approval"
    assert versions(database, paid_order.id) == 1


def _request_change(client, database, public_no, values=None):
    """The customer's whole flow: the form, the texted code, the confirmation."""
    path = f"/orders/{public_no}/address"
    code_form = post(client, path, values or form_values())
    assert code_form.status_code == 200, code_form.text
    change_id = re.search(r'name="change_id" value="(\d+)"', code_form.text).group(1)
    done = post(client, path + "/confirm", {"change_id": change_id, "code": sent_code(database)})
    return int(change_id), done


def test_an_intercept_request_after_the_pack_scan_reaches_the_staff_queue(
    client, database, paid_order
):
    scan_parcel(database, paid_order.public_no, SYSTEM)
    assert "申请拦截改派" in client.get(f"/orders/{paid_order.public_no}/address").text
    change_id, done = _request_change(client, database, paid_order.public_no)
    assert done.status_code == 200
    assert done.headers["hx-redirect"].endswith("?notice=intercept_requested")
    with database.read() as session:
        change = session.get(AddressChange, change_id)
        assert (change.kind, change.status) == (ChangeKind.INTERCEPT, ChangeStatus.PENDING_APPROVAL)
    staff_login(client, database, Role.SUPPORT)
    queue = client.get("/admin/address-requests")
    assert queue.status_code == 200 and paid_order.public_no in queue.text


def test_each_customer_change_is_counted_and_the_limit_from_the_settings_holds(settings, database):
    limited = replace(settings, address_max_customer_edits=1)
    with TestClient(create_app(limited, database)) as client:
        order = make_order(database, status=OrderStatus.PAID)
        open_short_link(client, database, order.id)
        _, done = _request_change(client, database, order.public_no)
        assert done.headers["hx-redirect"].endswith("?notice=address_changed")
        with database.read() as session:
            assert session.get(Order, order.id).customer_address_edits == 1
        again = post(client, f"/orders/{order.public_no}/address", form_values(name="王五"))
        assert again.status_code == 409
        assert versions(database, order.id) == 2
