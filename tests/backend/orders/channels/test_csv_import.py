"""Hand-taken order sheets: grouped by 订单号, every bad cell reported with its row."""

import io

import pytest

from backend.orders.channels.canonical import CanonicalAddress, CanonicalLine, CanonicalOrder
from backend.orders.channels.csv_import import (
    MAX_ROWS,
    RowError,
    parse_order_csv,
    parse_order_file,
    parse_order_rows,
    parse_order_xlsx,
)
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import SalesChannel

HEADER = "订单号,收货人,手机,省,市,区,详细地址,商品编码,商品名称,数量,单价(元)"

ZHANG = CanonicalAddress(
    recipient_name="张三",
    phone="13800138000",
    province="广东省",
    city="深圳市",
    district="南山区",
    street="科技南十二路2号",
)


def manual_order(order_no, address, lines):
    return CanonicalOrder(
        channel=SalesChannel.MANUAL,
        channel_order_no=order_no,
        status=OrderStatus.PENDING_PAYMENT,
        raw_status="",
        buyer_name=address.recipient_name,
        buyer_phone=address.phone,
        address=address,
        lines=tuple(lines),
        total_fen=sum(line.quantity * line.unit_price_fen for line in lines),
        placed_at=None,
        paid_at=None,
        updated_at=None,
    )


GOOD_SHEET = "\n".join(
    [
        HEADER,
        "1001,张三,138-0013-8000,广东省,深圳市,南山区,科技南十二路2号,TS-01,T恤,2,99.5",
        "1001,,,,,,,MUG-02,马克杯,1,29",
        "1002,李四,+86 139 1234 5678,北京市,北京市,朝阳区,建国路1号,TEA-01,龙井,1,0.01",
    ]
)


def test_rows_sharing_an_order_number_become_one_order_with_its_lines():
    orders, errors = parse_order_csv(GOOD_SHEET)

    assert errors == []
    assert orders == [
        manual_order(
            "1001",
            ZHANG,
            [CanonicalLine("TS-01", "T恤", 2, 9950), CanonicalLine("MUG-02", "马克杯", 1, 2900)],
        ),
        manual_order(
            "1002",
            CanonicalAddress("李四", "13912345678", "北京市", "北京市", "朝阳区", "建国路1号"),
            [CanonicalLine("TEA-01", "龙井", 1, 1)],
        ),
    ]


def test_every_bad_row_is_reported_and_the_good_orders_still_come_through():
    sheet = "\n".join(
        [
            HEADER,
            "2001,张三,13800138000,广东省,深圳市,南山区,科技南十二路2号,TS-01,T恤,1,12.345",
            "2002,王五,12345,广东省,深圳市,南山区,科技南十二路2号,TS-01,T恤,0,-1",
            ",赵六,13800138001,广东省,深圳市,南山区,科技南十二路2号,TS-01,T恤,1,10",
            "2003,钱七,13800138002,广东,深圳市,南山区,科技南十二路2号,TS-01,T恤,1,10",
            "1001,张三,13800138000,广东省,深圳市,南山区,科技南十二路2号,TS-01,T恤,2,99.5",
            "2004,孙八,13800138003,广东省,深圳市,火星区,<script>x</script>,,T恤,abc,1e3",
            "2005,周九,13800138004,广东省,深圳市,南山区,科技南十二路2号,TS-01,T恤,1,10",
            "2005,周九,13800138005,广东省,深圳市,南山区,科技南十二路2号,TS-02,袜子,1,10",
        ]
    )

    orders, errors = parse_order_csv(sheet)

    assert [order.channel_order_no for order in orders] == ["1001"]
    assert errors == [
        RowError(2, "单价(元)", "too_many_decimals"),
        RowError(3, "数量", "not_positive"),
        RowError(3, "单价(元)", "negative"),
        RowError(3, "手机", "mobile_number_invalid"),
        RowError(4, "订单号", "required"),
        RowError(5, "省", "unknown_province"),
        RowError(7, "商品编码", "required"),
        RowError(7, "数量", "not_an_integer"),
        RowError(7, "单价(元)", "not_a_number"),
        RowError(7, "详细地址", "street_contains_markup"),
        RowError(7, "区", "unknown_district"),
        RowError(9, "手机", "conflicts_with_first_row"),
    ]


def test_an_order_with_one_bad_line_is_left_out_whole():
    sheet = "\n".join(
        [
            HEADER,
            "3001,张三,13800138000,广东省,深圳市,南山区,科技南十二路2号,TS-01,T恤,1,10",
            "3001,,,,,,,MUG-02,马克杯,1,ten",
        ]
    )

    assert parse_order_csv(sheet) == ([], [RowError(3, "单价(元)", "not_a_number")])


def test_a_sheet_without_a_required_column_names_every_missing_one():
    sheet = "订单号,收货人,手机,省,市,区,详细地址,商品编码,数量\n1001,张三"

    assert parse_order_csv(sheet) == (
        [],
        [RowError(1, "商品名称", "missing_column"), RowError(1, "单价(元)", "missing_column")],
    )


def test_headers_in_any_order_with_full_width_brackets_extra_columns_and_a_bom_are_read():
    sheet = (
        "\ufeff备注, 单价（元）,数量,商品名称,商品编码,详细地址,区,市,省,手机,收货人,订单号,邮编\n"
    )
    sheet += (
        "送礼,99.5,2,T恤,TS-01,科技南十二路2号,南山区,深圳市,广东省,13800138000,张三,1001,518057"
    )

    orders, errors = parse_order_csv(sheet)

    assert errors == []
    assert orders == [
        manual_order(
            "1001",
            CanonicalAddress(**(ZHANG.as_dict() | {"postal_code": "518057"})),
            [CanonicalLine("TS-01", "T恤", 2, 9950)],
        )
    ]


def test_blank_rows_are_skipped_and_a_bad_postal_code_is_reported():
    sheet = "\n".join(
        [
            HEADER + ",邮编",
            ",,,,,,,,,,,",
            "1001,张三,13800138000,广东省,深圳市,南山区,科技南十二路2号,TS-01,T恤,1,10,51805",
        ]
    )

    assert parse_order_csv(sheet) == ([], [RowError(3, "邮编", "postal_code_invalid")])


@pytest.mark.parametrize(
    ("filename", "data", "code"),
    [
        ("orders.csv", b"", "empty_file"),
        ("orders.txt", b"whatever", "unsupported_file_type"),
        ("orders.xlsx", b"PK\x03\x04 not really a zip", "unreadable_file"),
        ("orders.csv", b"\xff\xfe\x00\xd8", "unreadable_file"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_error_on_row_zero(filename, data, code):
    if filename.endswith(".xlsx"):
        pytest.importorskip("openpyxl")

    assert parse_order_file(filename, data) == ([], [RowError(0, "", code)])


def test_a_gbk_csv_from_chinese_excel_is_decoded():
    orders, errors = parse_order_file("订单.CSV", GOOD_SHEET.encode("gbk"))

    assert errors == []
    assert [order.channel_order_no for order in orders] == ["1001", "1002"]


def test_too_many_rows_stop_the_import_with_one_error():
    row = ["1", "张三", "13800138000", "广东省", "深圳市", "南山区", "科技南十二路2号"]
    rows = [HEADER.split(","), *[[*row, "S", "N", "1", "1"]] * (MAX_ROWS + 1)]

    assert parse_order_rows(rows) == ([], [RowError(MAX_ROWS + 2, "", "too_many_rows")])


def test_an_xlsx_sheet_with_numeric_cells_reads_like_the_csv():
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(","))
    # Excel turns order numbers, phones, quantities and prices into numbers.
    sheet.append([1001, "张三", 13800138000, "广东省", "深圳市", "南山区", "科技南十二路2号"])
    sheet.cell(row=2, column=8, value="TS-01")
    sheet.cell(row=2, column=9, value="T恤")
    sheet.cell(row=2, column=10, value=2)
    sheet.cell(row=2, column=11, value=99.5)
    sheet.append([1001.0, None, None, None, None, None, None, "MUG-02", "马克杯", 1.0, 29])
    buffer = io.BytesIO()
    workbook.save(buffer)

    orders, errors = parse_order_xlsx(buffer.getvalue())

    assert errors == []
    assert orders == [
        manual_order(
            "1001",
            ZHANG,
            [CanonicalLine("TS-01", "T恤", 2, 9950), CanonicalLine("MUG-02", "马克杯", 1, 2900)],
        )
    ]
