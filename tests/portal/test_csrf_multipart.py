"""CSRF on multipart forms (uploads without JavaScript): the hidden token part counts."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select

from backend.orders.models import Order, ReconciliationReport
from backend.staff.models import Role
from portal.security import _multipart_token
from tests.portal.helpers import csrf_token, run_async, staff_login

ORDERS_CSV = (
    "订单号,收货人,手机,省,市,区,详细地址,商品编码,商品名称,数量,单价(元)\n"
    "M9,张三,13800138000,浙江省,杭州市,西湖区,文三路100号,TEA-1,龙井,2,128.00\n"
).encode()


def multipart(*parts: tuple[str, bytes, str | None]) -> tuple[bytes, str]:
    """A browser's multipart/form-data body, parts in the given order: (name, value, filename)."""
    boundary = "----formboundary" + secrets.token_hex(8)
    body = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename:
            body += b"Content-Type: text/csv\r\n"
        body += b"\r\n" + value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post_import(client, *parts):
    body, content_type = multipart(*parts)
    return client.post("/admin/import", content=body, headers={"content-type": content_type})


def orders(database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(Order)) or 0


@pytest.fixture
def staff(client, database):
    staff_login(client, database, Role.ADMIN)
    return csrf_token(client, "/admin/import")


def test_a_plain_upload_with_its_hidden_token_imports(client, database, staff):
    answer = post_import(
        client, ("csrf_token", staff.encode(), None), ("file", ORDERS_CSV, "o.csv")
    )
    assert answer.status_code == 200
    with database.read() as session:
        assert session.scalars(select(Order.channel_order_no)).all() == ["M9"]


@pytest.mark.parametrize(
    "token",
    [None, b"", b"wrong-token-0123456789abcdefghij", b"x" * 10_000],
    ids=["missing", "empty", "wrong", "huge"],
)
def test_an_upload_without_the_right_token_is_refused_and_imports_nothing(
    client, database, staff, token
):
    parts = [("file", ORDERS_CSV, "o.csv")]
    if token is not None:
        parts.insert(0, ("csrf_token", token, None))
    answer = post_import(client, *parts)
    assert answer.status_code == 403
    assert orders(database) == 0


def test_a_token_behind_a_large_file_is_not_looked_for(client, database, staff):
    padding = ORDERS_CSV + b"," * (64 * 1024)
    answer = post_import(client, ("file", padding, "o.csv"), ("csrf_token", staff.encode(), None))
    assert answer.status_code == 403
    assert orders(database) == 0


def test_a_token_after_small_fields_still_counts(client, database, staff):
    day = client.get("/admin/reconciliation").text.split('name="day" type="date" value="')[1][:10]
    export = "订单号,状态,实付金额\nT1,交易成功,1.00\n".encode()
    body, content_type = multipart(
        ("channel", b"taobao", None),
        ("day", day.encode(), None),
        ("csrf_token", staff.encode(), None),
        ("export", export, "taobao.csv"),
    )
    answer = client.post(
        "/admin/reconciliation", content=body, headers={"content-type": content_type}
    )
    assert answer.status_code in (200, 303)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(ReconciliationReport)) == 1


def test_a_malformed_multipart_body_is_refused(client, database, staff):
    answer = client.post(
        "/admin/import",
        content=b"no boundary here",
        headers={"content-type": "multipart/form-data; boundary=abc"},
    )
    assert answer.status_code == 403
    assert orders(database) == 0


async def read_in_pieces(body: bytes, content_type: str, size: int):
    """Feed the body in `size`-byte messages, as a slow client would; what does the app get?"""
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    queue = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1}
        for i, p in enumerate(pieces)
    ]

    async def receive():
        return queue.pop(0)

    token, replay = await _multipart_token(receive, content_type)
    unread_after_check = len(queue)
    received, more = b"", True
    while more:
        message = await replay()
        received, more = received + message["body"], message["more_body"]
    return token, received, unread_after_check


@pytest.mark.parametrize("size", [1, 7, 64, 1000])
def test_the_token_is_found_across_any_split_and_the_body_reaches_the_app_intact(size):
    body, content_type = multipart(
        ("csrf_token", b"the-token-0123456789abcdef", None), ("file", ORDERS_CSV * 200, "o.csv")
    )
    token, received, unread = run_async(read_in_pieces, body, content_type, size)
    assert token == "the-token-0123456789abcdef"
    assert received == body
    assert unread > 0  # the upload behind the token was left for the app to stream
