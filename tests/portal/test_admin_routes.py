"""Staff console: login, roles, search and the order page with its audit trail."""

import re

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.orders.intake import IntakeRules
from backend.orders.service import NewLine
from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import csrf_token, staff_login


def test_non_staff_get_no_admin_page(client, database):
    order = make_order(database)
    for path in ("/admin/orders", f"/admin/orders/{order.id}"):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/admin/login")


def test_a_customer_session_is_not_a_staff_session(client, database):
    order = make_order(database)
    from tests.portal.helpers import open_short_link

    open_short_link(client, database, order.id)
    assert client.get("/admin/orders", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_with_the_same_message_as_an_unknown_name(client, database):
    staff_login(client, database, Role.SUPPORT, name="小李")
    client.cookies.clear()
    answers = []
    for name, password in (("小李", "wrong-password"), ("nobody", "wrong-password")):
        token = csrf_token(client, "/admin/login")
        response = client.post(
            "/admin/login", data={"name": name, "password": password, "csrf_token": token}
        )
        answers.append((response.status_code, "用户名或密码错误" in response.text))
    assert answers == [(422, True), (422, True)]


def test_staff_search_finds_orders_by_any_number_phone_or_name(client, database):
    order = make_order(database, phone="13712345678", name="王小明")
    other = make_order(database, phone="13600000000", name="赵六")
    staff_login(client, database, Role.SUPPORT)
    for query in (
        order.public_no,
        order.channel_order_no,
        "13712345678",
        "+86 137-1234-5678",
        "5678 王小明",
        "王小明 5678",
        "王小明",
    ):
        html = client.get("/admin/orders", params={"q": query}).text
        assert order.public_no in html and other.public_no not in html, query
    # Four digits alone, or with another name, find nobody: the box is no customer list.
    for query in ("5678", "5678 赵六", "1234 王小明"):
        assert order.public_no not in client.get("/admin/orders", params={"q": query}).text


def test_staff_search_finds_orders_by_product_name_or_sku(client, database):
    tea = make_order(database, lines=[NewLine("TEA-LJ-250", "明前西湖龙井 250g", 1, 12_800)])
    cup = make_order(database, lines=[NewLine("CUP-CER-01", "景德镇手绘茶杯", 2, 3_900)])
    staff_login(client, database, Role.SUPPORT)
    for query, found, not_found in (("龙井", tea, cup), ("CUP-CER-01", cup, tea)):
        html = client.get("/admin/orders", params={"q": query}).text
        assert found.public_no in html and not_found.public_no not in html, query


@pytest.mark.parametrize("query", ["%", "_", "%%", "1%8", "137_____678", "/", "\\", "%/%"])
def test_like_wildcards_in_a_search_match_themselves_not_every_order(client, database, query):
    order = make_order(database, phone="13712345678", name="王小明")
    staff_login(client, database, Role.SUPPORT)
    html = client.get("/admin/orders", params={"q": query}).text
    assert order.public_no not in html, query
    assert order.public_no in client.get("/admin/orders", params={"q": "龙井"}).text


def test_search_results_come_back_as_a_partial_for_htmx(client, database):
    make_order(database)
    staff_login(client, database, Role.SUPPORT)
    partial = client.get("/admin/orders", params={"q": ""}, headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<section id="order_results"')


def test_the_order_page_masks_the_phone_and_street_until_revealed_with_a_reason(client, database):
    order = make_order(database, phone="13712345678", name="王小明")
    staff_login(client, database, Role.SUPPORT)
    html = client.get(f"/admin/orders/{order.id}").text
    assert "137****5678" in html and "13712345678" not in html and "文三路100号" not in html
    assert "order.placed" in html and "order.pay" in html and "v1" in html
    token = csrf_token(client, f"/admin/orders/{order.id}")
    short = client.post(
        f"/admin/orders/{order.id}/reveal", data={"reason": "查", "csrf_token": token}
    )
    assert short.status_code == 422 and "13712345678" not in short.text
    shown = client.post(
        f"/admin/orders/{order.id}/reveal", data={"reason": "客户来电核对地址", "csrf_token": token}
    )
    assert shown.status_code == 200 and "13712345678" in shown.text and "文三路100号" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    # For that answer only: the next visit is masked again, and the audit says who and why.
    again = client.get(f"/admin/orders/{order.id}").text
    assert "13712345678" not in again
    with database.read() as session:
        (event,) = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "personal_data.revealed")
        ).all()
    assert event.actor_id == "support-user" and event.after["reason"] == "客户来电核对地址"
    assert "personal_data.revealed" in again


@pytest.mark.parametrize("role", [Role.WAREHOUSE, Role.FINANCE])
def test_roles_without_the_power_cannot_reveal_and_finance_never_sees_a_street(
    client, database, role
):
    order = make_order(database, phone="13712345678")
    staff_login(client, database, role)
    html = client.get(f"/admin/orders/{order.id}").text
    assert "文三路100号" not in html and "13712345678" not in html
    token = csrf_token(client, f"/admin/orders/{order.id}")
    refused = client.post(
        f"/admin/orders/{order.id}/reveal", data={"reason": "我想看看", "csrf_token": token}
    )
    assert refused.status_code == 403 and "文三路100号" not in refused.text


def test_support_can_create_a_working_sms_link_and_revoke_it(client, database):
    order = make_order(database)
    staff_login(client, database, Role.SUPPORT)
    token = csrf_token(client, f"/admin/orders/{order.id}")
    created = client.post(f"/admin/orders/{order.id}/links", headers={"X-CSRF-Token": token})
    link = re.search(r"http://testserver(/t/[A-Za-z0-9]{8})", created.text).group(1)
    customer = client.get(link, follow_redirects=False)
    assert customer.status_code == 303
    client.post(f"/admin/orders/{order.id}/links/revoke", data={"csrf_token": token})
    assert client.get(link).status_code == 410
    audit = client.get(f"/admin/orders/{order.id}").text
    assert "link.issued" in audit and "link.revoked_all" in audit


def test_warehouse_staff_cannot_manage_links(client, database):
    order = make_order(database)
    staff_login(client, database, Role.WAREHOUSE)
    token = csrf_token(client, f"/admin/orders/{order.id}")
    response = client.post(f"/admin/orders/{order.id}/links", headers={"X-CSRF-Token": token})
    assert response.status_code == 403
    assert "生成短信链接" not in client.get(f"/admin/orders/{order.id}").text


def test_unknown_and_malformed_order_ids_are_not_found(client, database):
    staff_login(client, database, Role.ADMIN)
    token = csrf_token(client, "/admin/orders")
    assert client.get("/admin/orders/999999").status_code == 404
    assert client.get("/admin/orders/abc").status_code == 404
    response = client.post("/admin/orders/999999/links", headers={"X-CSRF-Token": token})
    assert response.status_code == 404


def test_logging_out_ends_the_staff_session(client, database):
    staff_login(client, database, Role.SUPPORT)
    token = csrf_token(client, "/admin/orders")
    client.post("/admin/logout", data={"csrf_token": token})
    assert client.get("/admin/orders", follow_redirects=False).status_code == 303


def test_the_operations_page_shows_the_figures_and_each_teams_queue(client, database):
    from backend.demo import seed_operations

    seed_operations(database, IntakeRules())
    staff_login(client, database, Role.SUPERVISOR)
    html = client.get("/admin/operations").text
    assert "今日订单" in html and "财务" in html and "客服" in html
    assert "疑似重复" in html and "高价值" in html and "低于成本" in html and "未建档" in html


def test_staff_upload_an_export_and_download_the_finance_csv(client, database):
    order = make_order(database)
    staff_login(client, database, Role.ADMIN)
    token = csrf_token(client, "/admin/reconciliation")
    export = f"订单号,状态,实付金额\n{order.channel_order_no},交易成功,256.00\n".encode()
    today = client.get("/admin/reconciliation").text
    day = re.search(r'name="day" type="date" value="([^"]+)"', today).group(1)
    answer = client.post(
        "/admin/reconciliation",
        data={"channel": "taobao", "day": day},
        files={"export": ("taobao.csv", export, "text/csv")},
        headers={"X-CSRF-Token": token},
        follow_redirects=True,
    )
    assert answer.status_code == 200 and "taobao" in answer.text
    bad = client.post(
        "/admin/reconciliation",
        data={"channel": "taobao", "day": day},
        files={"export": ("x.csv", b"nonsense", "text/csv")},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 422
    csv_file = client.get("/admin/finance.csv")
    assert csv_file.headers["content-type"].startswith("text/csv")
    assert client.get("/admin/finance.csv?month=2026-13").status_code == 400


def test_staff_import_hand_taken_orders_and_see_bad_rows_one_by_one(client, database):
    staff_login(client, database, Role.SUPPORT)
    token = csrf_token(client, "/admin/import")
    text = (
        "订单号,收货人,手机,省,市,区,详细地址,商品编码,商品名称,数量,单价(元)\n"
        "M1,张三,13800138000,浙江省,杭州市,西湖区,文三路100号,TEA-1,龙井,2,128.00\n"
        "M2,李四,12345,浙江省,杭州市,西湖区,文三路1号,TEA-1,龙井,1,abc\n"
    )
    answer = client.post(
        "/admin/import",
        files={"file": ("orders.csv", text.encode(), "text/csv")},
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 422
    assert "1 个订单已创建" in answer.text or "1 orders created" in answer.text
    assert "<td>3</td>" in answer.text
    with database.read() as session:
        from sqlalchemy import select

        from backend.orders.models import Order

        assert session.scalars(select(Order.channel_order_no)).all() == ["M1"]


def test_staff_keep_the_sku_master_and_map_channel_skus(client, database):
    from sqlalchemy import select

    from backend.orders.models import ChannelSku, Sku

    staff_login(client, database, Role.FINANCE)
    token = csrf_token(client, "/admin/skus")
    saved = client.post(
        "/admin/skus",
        data={
            "code": "tea-1",
            "name": "龙井",
            "on_hand": "50",
            "cost_yuan": "60.5",
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    assert "TEA-1" in saved.text and "¥60.50" in saved.text
    client.post(
        "/admin/skus",
        data={
            "channel": "taobao",
            "channel_sku": "3608123456",
            "code": "TEA-1",
            "csrf_token": token,
        },
    )
    bad = client.post(
        "/admin/skus",
        data={"code": "X", "name": "x", "on_hand": "-3", "cost_yuan": "1", "csrf_token": token},
    )
    assert bad.status_code == 422
    with database.read() as session:
        assert session.scalars(select(Sku.on_hand)).all() == [50]
        assert session.scalars(select(ChannelSku.channel_sku)).all() == ["3608123456"]
