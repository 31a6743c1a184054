"""Return evidence checks over HTTP: blurry and dark photos are retaken, copies go to review."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select, update
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Sku
from backend.refunds.models import ReturnPhoto, ReturnRequest
from backend.refunds.photo_matches import REUSE_LOOKBACK
from backend.staff.models import Role
from tests.factories import make_order
from tests.photo_images import blurred, darkened, encode, photo_like
from tests.portal.helpers import csrf_token, open_short_link, staff_login
from tests.portal.test_return_routes import file, photo_id, photos, stored_files, upload


@pytest.fixture
def delivered(database, client):
    order = make_order(database, status=OrderStatus.DELIVERED, phone="13800138000")
    open_short_link(client, database, order.id)
    return order


@pytest.mark.parametrize(
    ("spoil", "prompt"),
    [
        (lambda image: blurred(image, 5), "照片模糊，请拿稳手机重新拍摄。"),
        (darkened, "照片太暗，请在光线充足处重新拍摄。"),
    ],
    ids=["blurry", "dark"],
)
def test_a_blurry_or_dark_photo_is_refused_with_a_retake_prompt_and_nothing_kept(
    client, database, delivered, settings, spoil, prompt
):
    answer = upload(client, delivered, encode(spoil(photo_like(3, (1600, 1200))), quality=88))
    assert answer.status_code == 422
    assert prompt in answer.text
    assert photos(database) == 0 and stored_files(settings) == []


def test_the_same_photo_taken_sharp_and_lit_is_kept_with_its_hash(client, database, delivered):
    answer = upload(client, delivered, encode(photo_like(3, (1600, 1200)), quality=88))
    assert answer.status_code == 200, answer.text
    with database.read() as session:
        kept = session.scalars(select(ReturnPhoto.perceptual_hash)).one()
    assert kept is not None and len(kept) == 16


def file_damaged(client, order, photo_data: bytes):
    """Upload one photo and file a refund-only 商品破损 request for one unit; the result page."""
    answer = upload(client, order, photo_data)
    assert answer.status_code == 200, answer.text
    return file(client, order, "refund_only", "damaged", [photo_id(answer)])


def status_of(database, order_id: int) -> str:
    with database.read() as session:
        return str(
            session.scalars(
                select(ReturnRequest.status).where(ReturnRequest.order_id == order_id)
            ).one()
        )


def test_a_photo_already_used_on_another_orders_return_sends_the_request_to_review(
    client, database
):
    first = make_order(database, status=OrderStatus.DELIVERED, phone="13800138000")
    open_short_link(client, database, first.id)
    original = photo_like(11, (1600, 1200))
    file_damaged(client, first, encode(original, quality=90))
    assert status_of(database, first.id) == "refunding"  # auto-approved: nothing to compare yet

    second = make_order(database, status=OrderStatus.DELIVERED, phone="13900139000")
    client.cookies.clear()
    open_short_link(client, database, second.id)
    # The same picture, smaller and recompressed: what a re-saved screenshot looks like.
    page = file_damaged(client, second, encode(original.resize((1000, 750)), quality=70))
    assert status_of(database, second.id) == "in_review"
    assert "需人工核实照片" in page.text
    assert first.public_no not in page.text  # the customer is not told what matched

    with database.read() as session:
        rows = session.execute(
            select(ReturnPhoto.id, ReturnPhoto.reused_photo_id).order_by(ReturnPhoto.id)
        ).all()
    earlier = [photo for photo, _ in rows]
    reused = [match for _, match in rows]
    assert reused == [None, earlier[0]]
    with database.read() as session:
        filed = session.scalars(
            select(AuditEvent.after)
            .where(AuditEvent.action == "return.filed")
            .order_by(AuditEvent.id)
        ).all()
    assert [event["copied_photos"] for event in filed] == [0, 1]

    client.cookies.clear()
    staff_login(client, database, Role.FINANCE)
    queue = client.get("/admin/returns").text
    assert f"这张照片也出现在订单 {first.public_no} 的退货照片中。" in queue
    matching = f'src="/admin/return-photos/{earlier[0]}?size=thumb"'
    assert matching in queue
    assert re.search(re.escape(matching) + r'[^>]*loading="lazy"', queue)
    # Every picture on the review page is a lazy thumbnail, never the 1600 px original.
    images = re.findall(r"<img [^>]*>", queue)
    assert len(images) >= 3  # each request's photo, and the match beside the second
    for tag in images:
        assert 'loading="lazy"' in tag, tag
        source = re.search(r'src="([^"]+)"', tag).group(1)
        assert source.endswith("?size=thumb"), tag
        answer = client.get(source.replace("&amp;", "&"))
        assert answer.status_code == 200
        assert max(Image.open(io.BytesIO(answer.content)).size) <= 400, source


def test_a_copy_of_the_products_catalogue_image_sends_the_request_to_review(client, database):
    staff_login(client, database, Role.FINANCE)
    token = csrf_token(client, "/admin/skus")
    client.post(
        "/admin/skus",
        data={
            "code": "TEA-1",
            "name": "西湖龙井 250g",
            "on_hand": "50",
            "cost_yuan": "60",
            "csrf_token": token,
        },
    )
    catalogue = photo_like(77, (1200, 1200))
    saved = client.post(
        "/admin/skus/image",
        data={"code": "TEA-1", "csrf_token": token},
        files={"image": ("tea.jpg", encode(catalogue, quality=92), "image/jpeg")},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with database.read() as session:
        sku_id, image_hash = session.execute(
            select(Sku.id, Sku.image_hash).where(Sku.code == "TEA-1")
        ).one()
    assert image_hash and len(image_hash) == 16
    assert (
        '西湖龙井 250g <span class="muted small">· 已有主图</span>'
        in client.get("/admin/skus").text
    )

    order = make_order(database, status=OrderStatus.DELIVERED, phone="13800138000")
    customer = TestClient(client.app)
    open_short_link(customer, database, order.id)
    file_damaged(customer, order, encode(catalogue.resize((900, 900)), quality=80))
    assert status_of(database, order.id) == "in_review"

    queue = client.get("/admin/returns").text
    assert "这张照片与商品「西湖龙井 250g」的主图相同。" in queue
    assert f'src="/admin/skus/{sku_id}/image"' in queue
    thumbnail = client.get(f"/admin/skus/{sku_id}/image")
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumbnail.content)).size) <= 320


def test_a_catalogue_image_that_is_not_an_image_is_refused_and_nothing_changes(
    client, database, settings
):
    staff_login(client, database, Role.FINANCE)
    token = csrf_token(client, "/admin/skus")
    client.post(
        "/admin/skus",
        data={
            "code": "TEA-1",
            "name": "西湖龙井 250g",
            "on_hand": "50",
            "cost_yuan": "60",
            "csrf_token": token,
        },
    )
    answer = client.post(
        "/admin/skus/image",
        data={"code": "TEA-1", "csrf_token": token},
        files={"image": ("tea.jpg", b"<svg></svg>", "image/jpeg")},
    )
    assert answer.status_code == 422 and "图片无法读取" in answer.text
    unknown = client.post(
        "/admin/skus/image",
        data={"code": "NOPE-1", "csrf_token": token},
        files={"image": ("tea.jpg", encode(photo_like(1)), "image/jpeg")},
    )
    assert unknown.status_code == 422 and "没有这个商品编码" in unknown.text
    with database.read() as session:
        assert session.scalars(select(Sku.image_hash)).all() == [None]
    assert stored_files(settings) == []


def test_different_photos_on_two_orders_are_both_approved(client, database):
    for seed, phone in ((21, "13800138000"), (22, "13900139000")):
        order = make_order(database, status=OrderStatus.DELIVERED, phone=phone)
        client.cookies.clear()
        open_short_link(client, database, order.id)
        file_damaged(client, order, encode(photo_like(seed, (1600, 1200)), quality=88))
        assert status_of(database, order.id) == "refunding"


def test_the_same_photo_on_a_second_request_of_the_same_order_is_not_a_reuse(client, database):
    order = make_order(database, status=OrderStatus.DELIVERED, phone="13800138000")
    open_short_link(client, database, order.id)
    picture = encode(photo_like(51, (1600, 1200)), quality=88)
    file_damaged(client, order, picture)  # one of the two units
    file_damaged(client, order, picture)  # the other, photographed the same way
    with database.read() as session:
        checks = session.scalars(
            select(ReturnRequest.checks).where(ReturnRequest.order_id == order.id)
        ).all()
        reused = session.scalars(select(ReturnPhoto.reused_photo_id)).all()
    assert len(checks) == 2 and reused == [None, None]
    for stored in checks:
        assert {
            "code": "photos_not_reused",
            "passed": True,
            "params": {"reused_photos": 0},
        } in stored


def test_a_photo_from_a_return_older_than_the_lookback_is_not_compared(client, database):
    first = make_order(database, status=OrderStatus.DELIVERED, phone="13800138000")
    open_short_link(client, database, first.id)
    original = photo_like(61, (1600, 1200))
    file_damaged(client, first, encode(original, quality=90))
    with database.write() as session:
        session.execute(
            update(ReturnPhoto).values(created_at=utcnow() - REUSE_LOOKBACK - timedelta(days=1))
        )
    second = make_order(database, status=OrderStatus.DELIVERED, phone="13900139000")
    client.cookies.clear()
    open_short_link(client, database, second.id)
    file_damaged(client, second, encode(original, quality=80))
    assert status_of(database, second.id) == "refunding"


def test_two_orders_filed_at_once_with_the_same_picture_both_go_to_review(client, database):
    """Both photos are uploaded before either request is filed: the race a filed-only
    comparison would lose, interleaved deterministically."""
    picture = photo_like(71, (1600, 1200))
    customers = []
    for phone, copy in (("13800138000", picture), ("13900139000", picture.resize((800, 600)))):
        order = make_order(database, status=OrderStatus.DELIVERED, phone=phone)
        customer = TestClient(client.app)
        open_short_link(customer, database, order.id)
        answer = upload(customer, order, encode(copy, quality=85))
        customers.append((customer, order, photo_id(answer)))
    for customer, order, uploaded in customers:
        file(customer, order, "refund_only", "damaged", [uploaded])
    assert [status_of(database, order.id) for _, order, _ in customers] == ["in_review"] * 2
