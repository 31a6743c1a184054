"""Returns through the pages: uploads that are cleaned or refused, rules, staff review."""

import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from backend.orders.lifecycle import OrderStatus
from backend.orders.service import NewLine
from backend.refunds.models import Refund, ReturnPhoto, ReturnRequest
from backend.staff.models import Role
from tests.factories import make_order
from tests.photo_images import photo_like
from tests.portal.helpers import csrf_token, open_short_link, staff_login


def jpeg(size=(640, 480), gps=False, seed=0) -> bytes:
    image = photo_like(seed, size)
    out = io.BytesIO()
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (30.0, 15.0, 0.0), 3: "E", 4: (120.0, 10.0, 0.0)}
        exif[0x010F] = "PhoneMaker"
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def delivered(database, client):
    order = make_order(database, status=OrderStatus.DELIVERED, phone="13800138000")
    open_short_link(client, database, order.id)
    return order


def upload(client, order, data, name="photo.jpg", content_type="image/jpeg"):
    token = csrf_token(client, "/lookup")
    return client.post(
        f"/orders/{order.public_no}/return/photos",
        files={"photo": (name, data, content_type)},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )


def photos(database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(ReturnPhoto))


def stored_files(settings):
    from pathlib import Path

    folder = Path(settings.photo_dir)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_photo_is_kept_without_its_gps_data_and_served_only_to_its_customer(
    client, database, delivered, settings
):
    answer = upload(client, delivered, jpeg(gps=True))
    assert answer.status_code == 200 and 'name="photo_ids"' in answer.text
    photo_url = re.search(r'src="([^"]+)\?size=thumb"', answer.text).group(1)
    served = client.get(photo_url)
    assert served.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(served.content)).getexif()
    assert b"PhoneMaker" not in served.content
    client.cookies.clear()
    assert client.get(photo_url).status_code in (303, 404)


ATTACKS = {
    "svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "photo.jpg",
    ),
    "html": (b"<html><body><script>alert(1)</script></body></html>", "photo.jpg"),
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "scan.jpg"),
    "polyglot": (jpeg() + b"<html><script>alert(1)</script></html>", "photo.jpg"),
    "path": (b"not an image", "../../../etc/passwd"),
    "empty": (b"", "photo.jpg"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_files_that_are_not_photos_are_refused_and_leave_nothing_behind(
    client, database, delivered, settings, attack
):
    data, name = ATTACKS[attack]
    answer = upload(client, delivered, data, name=name)
    assert answer.status_code == 422 and "照片" in answer.text
    assert photos(database) == 0 and stored_files(settings) == []


def test_a_decompression_bomb_and_an_oversized_upload_are_refused(client, database, delivered):
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")
    assert upload(client, delivered, bomb.getvalue(), "bomb.png", "image/png").status_code == 422
    huge = upload(client, delivered, b"\xff\xd8\xff" + b"0" * (30 * 1024 * 1024))
    assert huge.status_code in (413, 422)
    assert photos(database) == 0


def test_many_files_in_one_request_are_refused(client, delivered):
    token = csrf_token(client, "/lookup")
    files = [("photo", (f"p{n}.jpg", b"x", "image/jpeg")) for n in range(1000)]
    answer = client.post(
        f"/orders/{delivered.public_no}/return/photos", files=files, headers={"X-CSRF-Token": token}
    )
    assert answer.status_code == 400


def test_at_most_six_photos(client, database, delivered):
    answers = [upload(client, delivered, jpeg()).status_code for _ in range(7)]
    assert answers == [200] * 6 + [422]


def file(client, order, refund_type, reason, photo_ids, quantity=1):
    line_id = re.search(r'name="qty_(\d+)"', client.get(f"/orders/{order.public_no}/return").text)
    token = csrf_token(client, "/lookup")
    data = {
        f"qty_{line_id.group(1)}": str(quantity),
        "refund_type": refund_type,
        "reason": reason,
        "description": "外包装破损",
        "csrf_token": token,
        "photo_ids": [str(p) for p in photo_ids],
    }
    return client.post(f"/orders/{order.public_no}/return", data=data, follow_redirects=True)


def photo_id(answer) -> int:
    return int(re.search(r'name="photo_ids" value="(\d+)"', answer.text).group(1))


def test_a_small_damaged_item_with_a_photo_is_approved_at_once_with_the_reasons(
    client, database, delivered
):
    pid = photo_id(upload(client, delivered, jpeg()))
    page = file(client, delivered, "refund_only", "damaged", [pid])
    assert page.status_code == 200, page.text
    assert "已自动通过：金额不超过200元、签收7天内、近30天首次退款" in page.text
    assert "退款处理中" in page.text
    with database.read() as session:
        refund = session.scalars(select(Refund)).one()
    assert refund.amount_fen == 12_800 and refund.status == "stored"


def test_a_damaged_item_without_a_photo_is_sent_back_to_the_form(client, database, delivered):
    page = file(client, delivered, "refund_only", "damaged", [])
    assert page.status_code == 422 and "至少一张商品照片" in page.text
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(ReturnRequest)) == 0


def test_a_350_yuan_request_goes_to_review_and_staff_approval_pays_it_once(
    client, database, settings
):
    order = make_order(
        database, status=OrderStatus.DELIVERED, lines=[NewLine("COAT-1", "羊毛大衣", 1, 35_000)]
    )
    open_short_link(client, database, order.id)
    pid = photo_id(upload(client, order, jpeg()))
    page = file(client, order, "refund_only", "damaged", [pid])
    assert "48小时" in page.text and "金额超过200元" in page.text
    staff_login(client, database, Role.FINANCE)
    queue = client.get("/admin/returns").text
    assert order.public_no in queue and "金额超过200元" in queue
    return_id = re.search(r"/admin/returns/(\d+)", queue).group(1)
    token = csrf_token(client, "/admin/returns")
    for _ in range(2):
        client.post(
            f"/admin/returns/{return_id}",
            data={"verdict": "approve", "amount_yuan": "", "csrf_token": token},
        )
    with database.read() as session:
        refunds = session.scalars(select(Refund)).all()
    assert [r.amount_fen for r in refunds] == [35_000]


def test_staff_can_approve_part_of_a_request(client, database):
    order = make_order(
        database, status=OrderStatus.DELIVERED, lines=[NewLine("COAT-1", "羊毛大衣", 1, 35_000)]
    )
    open_short_link(client, database, order.id)
    file(client, order, "return_and_refund", "no_reason_7_days", [])
    staff_login(client, database, Role.SUPPORT)
    return_id = re.search(r"/admin/returns/(\d+)", client.get("/admin/returns").text).group(1)
    token = csrf_token(client, "/admin/returns")
    client.post(
        f"/admin/returns/{return_id}",
        data={"verdict": "approve", "amount_yuan": "300.5", "csrf_token": token},
    )
    with database.read() as session:
        request = session.get(ReturnRequest, int(return_id))
    assert request.approved_amount_fen == 30_050 and request.status == "awaiting_parcel"


def test_a_return_parcel_is_tracked_and_its_refund_released_when_the_warehouse_scans_it(
    client, database
):
    order = make_order(database, status=OrderStatus.DELIVERED)
    open_short_link(client, database, order.id)
    page = file(client, order, "return_and_refund", "no_reason_7_days", [])
    assert "请将商品寄回" in page.text and "售后仓" in page.text
    progress_path = re.search(r'action="(/orders/[^"]+/parcel)"', page.text).group(1)
    token = csrf_token(client, "/lookup")
    bad = client.post(
        progress_path, data={"carrier": "zhongtong", "tracking_no": "1", "csrf_token": token}
    )
    assert bad.status_code == 422
    sent = client.post(
        progress_path,
        data={"carrier": "zhongtong", "tracking_no": "ZT7512340000", "csrf_token": token},
        follow_redirects=True,
    )
    assert "退货寄回中" in sent.text
    staff_login(client, database, Role.WAREHOUSE)
    token = csrf_token(client, "/warehouse/scan")
    scanned = client.post(
        "/warehouse/scan",
        data={"code": "zt7512340000"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert "退货已签收" in scanned.text
    return_id = re.search(r"/warehouse/returns/(\d+)/inspection", scanned.text).group(1)
    client.post(
        f"/warehouse/returns/{return_id}/inspection",
        data={"verdict": "problem", "note": "杯口有缺口"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    with database.read() as session:
        request = session.scalars(select(ReturnRequest)).one()
        refund = session.scalars(select(Refund)).one()
    assert request.status == "refunding" and refund.amount_fen == 12_800
    assert request.inspection == "problem: 杯口有缺口"


def test_a_rejected_request_may_be_asked_again_once(client, database):
    order = make_order(
        database, status=OrderStatus.DELIVERED, lines=[NewLine("COAT-1", "羊毛大衣", 1, 35_000)]
    )
    open_short_link(client, database, order.id)
    file(client, order, "return_and_refund", "no_reason_7_days", [])
    staff_login(client, database, Role.SUPPORT)
    return_id = re.search(r"/admin/returns/(\d+)", client.get("/admin/returns").text).group(1)
    token = csrf_token(client, "/admin/returns")
    client.post(
        f"/admin/returns/{return_id}",
        data={"verdict": "reject", "reason": "衣物已洗涤，不支持退货", "csrf_token": token},
    )
    progress = client.get(f"/orders/{order.public_no}/returns/{return_id}").text
    assert "衣物已洗涤" in progress and "再次申请" in progress
    again_path = f"/orders/{order.public_no}/returns/{return_id}/again"
    token = csrf_token(client, "/lookup")
    again = client.post(
        again_path,
        data={"description": "未洗涤，吊牌完好", "csrf_token": token},
        follow_redirects=True,
    )
    assert again.status_code == 200 and "客服将在48小时内" in again.text
    twice = client.post(again_path, data={"description": "再试一次", "csrf_token": token})
    assert twice.status_code == 422
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(ReturnRequest)) == 2
