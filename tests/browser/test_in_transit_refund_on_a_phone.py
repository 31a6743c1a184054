"""仅退款 in transit on a phone: 拒收 asked, the carrier reports the refusal, the refund is
paid at the payments emulator; a second request from a stale tab is refused."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from backend.orders.service import NewLine
from backend.refunds.models import InTransitRefund
from portal.settings import Settings
from tests.browser import test_return_refund
from tests.browser.live import url_of
from tests.browser.parcels import sms_link
from tests.conftest import TEST_KEYS
from tests.factories import SYSTEM, create_shipment, make_order

pytestmark = pytest.mark.browser

WAYBILL = "ZT7512348888"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CARRIER = Actor.system("carrier")
payments = test_return_refund.payments  # the payments emulator, wired like a merchant's


@pytest.fixture
def settings(
    database: Database,
    listening_socket: socket.socket,
    tmp_path: Path,
    payments,
) -> Iterator[Settings]:
    _emulator, url, wiring = payments
    yield Settings(
        database_url=database.url,
        secret_keys=TEST_KEYS,
        base_url=url_of(listening_socket),
        tracking_refresh_seconds=1,
        embedded_worker=True,
        photo_dir=str(tmp_path / "photos"),
        wechatpay_base_url=url,
        **wiring,
    )


def carrier_says(database: Database, status: TrackingStatus, code: str, text: str) -> None:
    """What a Kuaidi100 push would record: the same service, the same transaction."""
    event = CarrierEvent(utcnow(), status, text, raw_code=code)
    record_tracking_update(
        database, "zhongtong", WAYBILL, [event], source="test", full_history=False, actor=CARRIER
    )


def snap_both_widths(page: Page, name: str, directory: Path) -> None:
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        path = directory / f"refund-in-transit-{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})


def requests_of(database: Database) -> list[InTransitRefund]:
    with database.read() as session:
        return list(session.scalars(select(InTransitRefund)))


def wait_for_text(page: Page, text: str, seconds: float = 25) -> None:
    """Reload until the page says `text`: the worker and the gateway move in the background."""
    deadline = time.monotonic() + seconds
    while text not in page.content():
        assert time.monotonic() < deadline, f"{text!r} never shown"
        time.sleep(0.5)
        page.reload()


def test_a_parcel_refused_at_the_door_is_refunded_and_a_second_request_is_refused(
    page: Page,
    database: Database,
    payments,
    tmp_path: Path,
) -> None:
    order = make_order(
        database,
        status=OrderStatus.PACKED,
        phone="13800138000",
        lines=[NewLine("TEA-1", "西湖龙井 250g", 1, 12_800)],
    )
    create_shipment(database, order.id, "zhongtong", WAYBILL, SYSTEM)
    carrier_says(database, TrackingStatus.PICKED_UP, "103", "【杭州西湖营业部】快递员已揽收")
    payments[0].seed_payment(order.public_no, order.paid_fen)
    page.goto(sms_link(database, order.id))
    page.get_by_role("link", name="在途仅退款").click()
    stale = page.context.new_page()  # the same page left open in a second tab
    stale.goto(page.url)

    page.get_by_role("radio", name="拒收").check()
    page.get_by_label("原因").select_option("changed_mind")
    snap_both_widths(page, "form", tmp_path)
    page.get_by_role("button", name="申请退款").click()
    expect(page.get_by_text("请在包裹送达时拒收")).to_be_visible()
    [request] = requests_of(database)
    assert request.method == "refuse" and request.status == "refuse_advised"

    stale.get_by_role("radio", name="拦截退回").check()
    stale.get_by_role("button", name="申请退款").click()
    expect(stale.get_by_role("alert")).to_have_text("这个包裹已经申请过退款了。")
    snap_both_widths(stale, "refused", tmp_path)
    assert len(requests_of(database)) == 1

    carrier_says(database, TrackingStatus.EXCEPTION, "14", "收件人拒收，快件退回中")
    wait_for_text(page, "已退款")
    snap_both_widths(page, "refunded", tmp_path)
    assert payments[0].refunded_fen(order.public_no) == order.paid_fen
    with database.read() as session:
        assert session.get(Order, order.id).status == OrderStatus.REFUNDED
    DOCS.mkdir(parents=True, exist_ok=True)
    for width in (390, 320):
        shutil.copy(
            tmp_path / f"refund-in-transit-refunded-{width}.png",
            DOCS / f"refund-in-transit-{width}.png",
        )
