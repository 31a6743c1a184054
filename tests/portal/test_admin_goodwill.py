"""补偿 over HTTP: support pays a small amount at once, finance approves a larger one."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from backend.goodwill.models import GoodwillRefund
from backend.refunds.models import Refund
from backend.staff.models import Role
from portal.routes.admin_goodwill import parse_yuan
from tests.factories import make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login


def stored(database, order_id):
    with database.read() as session:
        rows = session.scalars(select(GoodwillRefund).where(GoodwillRefund.order_id == order_id))
        refunds = session.scalars(select(Refund.amount_fen).where(Refund.order_id == order_id))
        return [(g.amount_fen, str(g.status), g.reason) for g in rows], list(refunds)


def form_key(client, order_id):
    found = re.search(r'name="key" value="([^"]+)"', client.get(f"/admin/orders/{order_id}").text)
    return found.group(1) if found else None


def grant(client, order_id, amount, reason="快递压坏外盒", key=None):
    page = f"/admin/orders/{order_id}"
    key = key or form_key(client, order_id)
    return client.post(
        f"{page}/goodwill",
        data={
            "amount": amount,
            "reason": reason,
            "key": key,
            "csrf_token": csrf_token(client, page),
        },
        follow_redirects=False,
    )


@pytest.mark.parametrize(
    ("raw", "fen"),
    [
        ("20", 2000),
        ("20.5", 2050),
        ("20.05", 2005),
        ("0.01", 1),
        ("1,000", None),
        ("-1", None),
        ("1e3", None),
        ("20.555", None),
        ("", None),
        ("１０", 1000),  # full-width, from a Chinese input method
        ("١٠", None),
    ],
)
def test_yuan_is_parsed_to_fen_exactly(raw, fen):
    assert parse_yuan(raw) == fen


def test_support_pays_up_to_the_limit_at_once_and_a_double_click_is_one(client, database):
    order = make_order(database)
    staff_login(client, database, Role.SUPPORT)
    key = form_key(client, order.id)
    assert key is not None
    first = grant(client, order.id, "50", key=key)
    assert first.headers["location"].endswith("?notice=goodwill_paying#goodwill")
    twice = grant(client, order.id, "50", key=key)
    assert twice.headers["location"].endswith("?notice=goodwill_repeat#goodwill")
    assert stored(database, order.id) == ([(5000, "paying", "快递压坏外盒")], [5000])
    page = client.get(first.headers["location"]).text
    assert "补偿已记录：将原路退回。" in page and "快递压坏外盒" in page


def test_above_the_limit_finance_approves_and_not_the_requester(client, database):
    order = make_order(database)
    staff_login(client, database, Role.SUPERVISOR, name="主管老周")
    answer = grant(client, order.id, "50.01")
    assert answer.headers["location"].endswith("?notice=goodwill_awaiting#goodwill")
    assert stored(database, order.id) == ([(5001, "awaiting_approval", "快递压坏外盒")], [])
    staff_login(client, database, Role.FINANCE, name="财务小陈")
    queue = client.get("/admin/goodwill").text
    assert order.public_no in queue and "¥50.01" in queue
    [goodwill_id] = re.findall(r'action="/admin/goodwill/(\d+)"', queue)
    token = csrf_token(client, "/admin/goodwill")
    done = client.post(
        f"/admin/goodwill/{goodwill_id}",
        data={"verdict": "approve", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/admin/goodwill?notice=approved"
    again = client.post(
        f"/admin/goodwill/{goodwill_id}",
        data={"verdict": "approve", "csrf_token": token},
        follow_redirects=False,
    )
    assert again.headers["location"] == "/admin/goodwill?notice=decided"
    assert stored(database, order.id) == ([(5001, "paying", "快递压坏外盒")], [5001])
    assert "没有待审批的补偿。" in client.get("/admin/goodwill").text


@pytest.mark.parametrize(
    ("amount", "reason", "notice"),
    [
        ("abc", "x", "goodwill_amount"),
        ("0", "x", "goodwill_amount"),
        ("-5", "x", "goodwill_amount"),
        ("99999999999", "x", "goodwill_amount"),
        ("10", "", "goodwill_reason"),
        ("256.01", "x", "goodwill_too_much"),
    ],
)
def test_garbage_is_a_notice_and_nothing_is_stored(client, database, amount, reason, notice):
    order = make_order(database)  # ¥256.00 paid
    staff_login(client, database, Role.SUPPORT)
    answer = grant(client, order.id, amount, reason=reason)
    assert answer.headers["location"].endswith(f"?notice={notice}#goodwill")
    assert stored(database, order.id) == ([], [])


def test_a_made_up_key_is_refused(client, database):
    order = make_order(database)
    staff_login(client, database, Role.SUPPORT)
    answer = grant(client, order.id, "10", key="short")
    assert answer.headers["location"].endswith("?notice=goodwill_amount#goodwill")
    assert stored(database, order.id) == ([], [])


@pytest.mark.parametrize("role", [Role.WAREHOUSE, Role.FINANCE])
def test_roles_without_grant_goodwill_get_403(client, database, role):
    order = make_order(database)
    staff_login(client, database, role)
    assert form_key(client, order.id) is None
    assert grant(client, order.id, "10", key="k" * 16).status_code == 403
    assert stored(database, order.id) == ([], [])


def test_the_customer_page_shows_the_compensation_at_once_even_when_cached(client, database):
    order = make_order(database)
    open_short_link(client, database, order.id)
    assert "补偿" not in client.get(f"/orders/{order.public_no}").text  # cached now
    staff_login(client, database, Role.SUPPORT, name="客服小王")
    grant(client, order.id, "20")
    grant(client, order.id, "60")  # above the limit: waits, so not shown yet
    page = client.get(f"/orders/{order.public_no}").text
    assert "补偿 ¥20.00 正在原路退回。" in page
    staff_login(client, database, Role.FINANCE, name="财务小陈")
    [goodwill_id] = re.findall(
        r'action="/admin/goodwill/(\d+)"', client.get("/admin/goodwill").text
    )
    client.post(
        f"/admin/goodwill/{goodwill_id}",
        data={"verdict": "approve", "csrf_token": csrf_token(client, "/admin/goodwill")},
    )
    assert "补偿 ¥80.00 正在原路退回。" in client.get(f"/orders/{order.public_no}").text
