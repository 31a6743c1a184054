"""Return evidence checks over HTTP: blurry and dark photos are retaken, copies go to review."""

from __future__ import annotations

import pytest

from backend.orders.lifecycle import OrderStatus
from tests.factories import make_order
from tests.photo_images import blurred, darkened, encode, photo_like
from tests.portal.helpers import open_short_link
from tests.portal.test_return_routes import photos, stored_files, upload


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
    from sqlalchemy import select

    from backend.refunds.models import ReturnPhoto

    with database.read() as session:
        kept = session.scalars(select(ReturnPhoto.perceptual_hash)).one()
    assert kept is not None and len(kept) == 16
