"""Importing a waybill file on the staff page: row by row, UTF-8 or GBK, a repeat changes nothing.

Uploads go as a browser sends them (multipart, the CSRF token as a hidden part) by a
logged-in staff member; what each row became is read back from the database.
"""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.logistics.models import Shipment, ShipmentLine
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.orders.service import NewLine
from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import csrf_token, staff_login
from tests.portal.test_csrf_multipart import multipart

PAGE = "/admin/waybills/import"


@pytest.fixture
def token(client, database):
    staff_login(client, database, Role.WAREHOUSE)
    return csrf_token(client, PAGE)


def upload(client, token, data: bytes, filename="运单.csv"):
    body, content_type = multipart(("csrf_token", token.encode(), None), ("file", data, filename))
    return client.post(PAGE, content=body, headers={"content-type": content_type})


def result_rows(html: str) -> list[list[str]]:
    table = html.split('id="waybill-import-result"', 1)[1]
    rows = re.findall(r'<tr class="outcome-\w+">(.*?)</tr>', table, re.S)
    return [re.findall(r"<td>(.*?)</td>", row, re.S) for row in rows]


def parcels(database) -> list[tuple[int, str, str, str]]:
    with database.read() as session:
        rows = session.execute(
            select(
                Shipment.order_id, Shipment.carrier_code, Shipment.tracking_no, Shipment.source
            ).order_by(Shipment.id)
        )
        return [tuple(row) for row in rows]


@pytest.fixture
def shop(database):
    lines = [NewLine("TEE-M", "T恤 M", 2, 9900), NewLine("CAP", "帽子", 1, 4900)]
    return make_order(database, lines=lines), make_order(database), make_order(database)


def sheet(shop) -> str:
    two_lines, whole, other = shop
    return (
        "订单号,快递公司,运单号,商品编码,数量\n"
        f"{two_lines.public_no},顺丰,SF1234567890001,TEE-M,2\n"
        f"{two_lines.public_no},顺丰,SF1234567890001,CAP,1\n"
        f"{whole.channel_order_no},圆通速递,YT0000000000021,,\n"
        f"{other.public_no},,ZT0000000000031,,\n"
        f"{other.public_no},shunfeng,SF1234567890001,,\n"
        f"{other.public_no},韵达,NOT-A-NUMBER,,\n"
    )


EXPECTED = [
    ["2, 3", "created", ""],
    ["4", "created", ""],
    ["5", "refused", "请填写快递公司。"],
    ["6", "refused", "该运单号已用于其他订单，请核对号码。"],
    ["7", "refused", "运单号格式不对：只能是 6 到 32 位字母和数字。"],
]
WORDS = {"已录入": "created", "已存在": "repeat", "已拒绝": "refused"}


def outcomes(html: str) -> list[list[str]]:
    return [[row[0], WORDS[row[3]], row[4]] for row in result_rows(html)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_a_sheet_records_the_good_parcels_and_names_each_bad_row(
    client, database, token, shop, encoding
):
    two_lines, whole, _other = shop
    answer = upload(client, token, sheet(shop).encode(encoding))

    assert answer.status_code == 200
    assert outcomes(answer.text) == EXPECTED
    assert parcels(database) == [
        (two_lines.id, "shunfeng", "SF1234567890001", "import"),
        (whole.id, "yuantong", "YT0000000000021", "import"),
    ]
    with database.read() as session:
        carried = session.scalars(
            select(ShipmentLine.quantity)
            .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
            .where(Shipment.order_id == two_lines.id)
            .order_by(ShipmentLine.id)
        ).all()
        assert carried == [2, 1]  # one parcel, both lines of rows 2 and 3
        statuses = dict(session.execute(select(Order.id, Order.status)).all())
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "waybills.imported")
        ).one()
    assert statuses[two_lines.id] == statuses[whole.id] == OrderStatus.SHIPPED
    assert audit.after == {
        "file": "运单.csv",
        "rows": 6,
        "parcels": 5,
        "created": 2,
        "repeat": 0,
        "refused": 3,
    }


def test_the_same_file_again_is_all_repeat_and_changes_nothing(client, database, token, shop):
    good = "".join(sheet(shop).splitlines(keepends=True)[:4]).encode()
    upload(client, token, good)
    before = parcels(database)
    answer = upload(client, token, good)
    assert [row[1] for row in outcomes(answer.text)] == ["repeat", "repeat"]
    assert parcels(database) == before and len(before) == 2


def test_an_excel_sheet_reads_like_the_csv(client, database, token, shop):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    for line in sheet(shop).splitlines():
        workbook.active.append(line.split(","))
    buffer = io.BytesIO()
    workbook.save(buffer)
    answer = upload(client, token, buffer.getvalue(), "运单.xlsx")
    assert outcomes(answer.text) == EXPECTED


@pytest.mark.parametrize(
    ("data", "filename", "problem"),
    [
        ("订单号,运单号\nA1,SF1234567890001\n".encode(), "w.csv", "三列"),
        ("名字,年龄\n张三,3\n".encode("gbk"), "w.csv", "三列"),
        (b"\x89PNG\r\n\x1a\n", "w.png", "请上传"),
        (b"PK\x03\x04 not a zip", "w.xlsx", "无法读取"),
    ],
)
def test_a_file_that_is_not_the_table_is_refused_whole(
    client, database, token, shop, data, filename, problem
):
    answer = upload(client, token, data, filename)
    assert answer.status_code == 422
    assert problem in answer.text
    assert parcels(database) == []


def test_support_staff_may_not_import_waybills(client, database, shop):
    staff_login(client, database, Role.SUPPORT)
    token = csrf_token(client, "/admin/login")
    answer = upload(client, token, sheet(shop).encode())
    assert answer.status_code == 403
    assert parcels(database) == []
