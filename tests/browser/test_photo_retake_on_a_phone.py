"""Return photos on a phone: blurry or dark ones get a retake prompt, a sharp one is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from tests.browser.parcels import sms_link
from tests.factories import make_order
from tests.photo_images import blurred, darkened, photo_like

pytestmark = pytest.mark.browser


def test_a_blurry_then_a_dark_photo_ask_for_a_retake_and_a_sharp_one_is_kept(
    page: Page, database: Database, tmp_path: Path
) -> None:
    order = make_order(database, status=OrderStatus.DELIVERED, phone="13800138000")
    scene = photo_like(31, (1600, 1200))
    files = {
        "shaky.jpg": blurred(scene, 6),
        "pocket.jpg": darkened(scene),
        "steady.jpg": scene,
    }
    for name, image in files.items():
        image.save(tmp_path / name, "JPEG", quality=90)
    page.goto(sms_link(database, order.id))
    page.get_by_role("link", name="申请退货/退款").click()
    prompt = page.locator("#upload_error")
    thumbnails = page.locator("#photo_list img")

    page.locator("#photo_input").set_input_files(str(tmp_path / "shaky.jpg"))
    expect(prompt).to_have_text("照片模糊，请拿稳手机重新拍摄。", timeout=15_000)
    expect(prompt).to_be_visible()
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        prompt.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / f"retake-blurry-{width}.png"))
    page.set_viewport_size({"width": 390, "height": 844})

    page.locator("#photo_input").set_input_files(str(tmp_path / "pocket.jpg"))
    expect(prompt).to_have_text("照片太暗，请在光线充足处重新拍摄。", timeout=15_000)
    expect(thumbnails).to_have_count(0)

    page.locator("#photo_input").set_input_files(str(tmp_path / "steady.jpg"))
    expect(thumbnails).to_have_count(1, timeout=15_000)
    expect(prompt).to_be_hidden()
