"""A return on a phone: a photo from the camera roll, approved by the rules, refunded live."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from emulators.payments import PaymentsEmulator
from emulators.serving import serve_in_thread
from portal.settings import Settings
from tests.browser.live import url_of
from tests.browser.parcels import sms_link
from tests.conftest import TEST_KEYS
from tests.factories import make_order
from tests.photo_images import photo_like

pytestmark = pytest.mark.browser


@pytest.fixture
def payments(tmp_path: Path) -> Iterator[tuple[PaymentsEmulator, str, dict[str, str]]]:
    emulator = PaymentsEmulator(settle_delay=0.5)
    credentials = emulator.enroll_wechat_merchant("1900000109")
    (tmp_path / "merchant.pem").write_text(credentials.private_key_pem)
    (tmp_path / "platform.pem").write_text(credentials.platform_public_key_pem)
    wiring = {
        "wechatpay_mchid": credentials.mchid,
        "wechatpay_serial_no": credentials.serial_no,
        "wechatpay_private_key_file": str(tmp_path / "merchant.pem"),
        "wechatpay_platform_keys": f"{credentials.platform_serial}={tmp_path / 'platform.pem'}",
        "wechatpay_api_v3_key": credentials.api_v3_key.decode(),
    }
    with serve_in_thread(emulator.app) as url:
        yield emulator, url, wiring


@pytest.fixture
def settings(
    database: Database, listening_socket: socket.socket, tmp_path: Path, payments
) -> Settings:
    _emulator, url, wiring = payments
    return Settings(
        database_url=database.url,
        secret_keys=TEST_KEYS,
        base_url=url_of(listening_socket),
        tracking_refresh_seconds=1,
        embedded_worker=True,
        photo_dir=str(tmp_path / "photos"),
        wechatpay_base_url=url,
        **wiring,
    )


@pytest.fixture
def photo_file(tmp_path: Path) -> Path:
    """A phone-sized photo with EXIF, like one picked from the camera roll."""
    path = tmp_path / "IMG_0421.JPG"
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    photo_like(421, (3024, 4032)).save(path, "JPEG", exif=exif, quality=92)
    return path


def test_a_damaged_item_is_photographed_approved_automatically_and_refunded_live(
    page: Page, database: Database, payments, photo_file: Path
) -> None:
    order = make_order(database, status=OrderStatus.DELIVERED, phone="13800138000")
    payments[0].seed_payment(order.public_no, order.paid_fen)
    page.goto(sms_link(database, order.id))
    page.get_by_role("link", name="申请退货/退款").click()

    page.locator("select[name^=qty_]").select_option("1")  # one of the two cups broke
    page.get_by_label("原因").select_option("damaged")
    page.get_by_label("问题描述").fill("收到时外包装压坏，杯子有裂纹")
    page.locator("#photo_input").set_input_files(str(photo_file))
    thumbnail = page.locator("#photo_list img")
    expect(thumbnail).to_have_count(1, timeout=15_000)
    shown = page.request.get(thumbnail.get_attribute("src").replace("?size=thumb", ""))
    assert b"PhoneMaker" not in shown.body()
    assert max(Image.open(io.BytesIO(shown.body())).size) <= 1600  # shrunk in the browser
    page.get_by_role("button", name="提交申请").click()

    progress = page.locator("#return_progress")
    expect(progress.locator(".ok").first).to_have_text(
        "已自动通过：金额不超过200元、签收7天内、近30天首次退款"
    )
    page.evaluate("window.stillHere = true")
    expect(progress.locator(".headline")).to_have_text("退款成功", timeout=20_000)
    expect(progress.locator(".progress li.current")).to_have_text("已退款")
    expect(progress).to_contain_text("已通过微信支付退回至")
    expect(progress).to_contain_text(f"退款单号 RF{order.public_no}-")
    assert page.evaluate("window.stillHere") is True
    assert payments[0].refunded_fen(order.public_no) == 12_800
