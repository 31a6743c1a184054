"""Phone-sized screenshots of the customer and staff pages, from the demo: docs/screenshots/*.png.

Run with `.venv/bin/python -m tests.browser.screenshots [--out DIR] [--full-page]`. The demo
is seeded into a throwaway SQLite database and served on a free port, with the WeChat Pay
emulator on another, so the refund in the pictures is paid through the production adapter
and its notify; nothing else is touched.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from sqlalchemy import func, select

from backend.db import Database
from backend.demo import seed_operations, seed_orders, seed_staff
from backend.jobs.worker import Worker
from backend.logistics.models import Shipment, TrackingEvent
from backend.logistics.status import TrackingStatus
from backend.migrate import upgrade
from backend.orders.intake import IntakeRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import HoldReason, Order, PaymentMethod
from backend.staff.models import Role
from emulators.kuaidi100 import Kuaidi100Emulator
from emulators.notifications import NotificationEmulator
from emulators.payments import PaymentsEmulator
from emulators.serving import serve_in_thread
from portal.app import create_app
from portal.background import build_handlers
from portal.integrations import build_integrations
from portal.settings import Settings
from tests.browser.live import (
    PHONE,
    bind_free_port,
    launch_chromium,
    phone_context_options,
    serving,
    url_of,
)
from tests.browser.parcels import sms_link
from tests.browser.wechat_sdk import SDK_STUB
from tests.photo_images import photo_like
from tests.portal.wechat_official import official_account

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def most_travelled(database: Database, order_status: OrderStatus, parcel: TrackingStatus) -> int:
    """The demo order in that state whose parcel has the longest timeline: the best picture."""
    with database.read() as session:
        order_id = session.scalar(
            select(Order.id)
            .join(Shipment, Shipment.order_id == Order.id)
            .join(TrackingEvent, TrackingEvent.shipment_id == Shipment.id)
            .where(Order.status == order_status, Shipment.status == parcel)
            .group_by(Order.id)
            .order_by(func.count(TrackingEvent.id).desc(), Order.id)
            .limit(1)
        )
    if order_id is None:
        raise LookupError(f"the demo has no {order_status} order with a {parcel} parcel")
    return order_id


def public_no_of(database: Database, order_id: int) -> str:
    with database.read() as session:
        public_no = session.scalar(select(Order.public_no).where(Order.id == order_id))
    assert public_no is not None
    return public_no


@dataclass
class Demo:
    base_url: str
    database: Database
    settings: Settings
    payments: PaymentsEmulator
    staff: dict[Role, tuple[str, str]]


def _wechat_pay(emulator: PaymentsEmulator, directory: Path, url: str) -> dict[str, str]:
    credentials = emulator.enroll_wechat_merchant("1900000109")
    (directory / "merchant.pem").write_text(credentials.private_key_pem)
    (directory / "platform.pem").write_text(credentials.platform_public_key_pem)
    return {
        "wechatpay_base_url": url,
        "wechatpay_mchid": credentials.mchid,
        "wechatpay_serial_no": credentials.serial_no,
        "wechatpay_private_key_file": str(directory / "merchant.pem"),
        "wechatpay_platform_keys": f"{credentials.platform_serial}={directory / 'platform.pem'}",
        "wechatpay_api_v3_key": credentials.api_v3_key.decode(),
    }


@contextmanager
def demo_portal(directory: Path) -> Iterator[Demo]:
    url = f"sqlite:///{directory / 'demo.db'}"
    upgrade(url)
    database = Database(url)
    sock = bind_free_port()
    payments = PaymentsEmulator(settle_delay=0.5)
    kuaidi100 = Kuaidi100Emulator()
    wechat = NotificationEmulator()
    try:
        with (
            serve_in_thread(payments.app) as payments_url,
            serve_in_thread(kuaidi100.app) as kuaidi100_url,
            serve_in_thread(wechat.app) as wechat_url,
        ):
            settings = Settings(
                database_url=url,
                secret_keys=(secrets.token_urlsafe(32),),
                base_url=url_of(sock),
                photo_dir=str(directory / "photos"),
                # Still pictures: the sandbox carrier must not move parcels while they are
                # taken. The refund's jobs are run by hand (run_jobs).
                embedded_worker=False,
                staff_second_factor_required=False,  # screenshots of pages, not of enrolment
                **_wechat_pay(payments, directory, payments_url),
                **_waybills(kuaidi100, kuaidi100_url),
            )
            # The official account at the emulator: the WeChat picture goes through OAuth.
            settings = official_account(settings, wechat_url)
            seed_orders(database, rules=IntakeRules())
            seed_operations(database, settings.rules.intake)
            staff = {role: (name, password) for name, role, password in seed_staff(database)}
            with serving(create_app(settings, database), sock):
                yield Demo(settings.base_url, database, settings, payments, staff)
    finally:
        sock.close()
        database.dispose()


def _waybills(kuaidi100: Kuaidi100Emulator, url: str) -> dict[str, str]:
    """The pack scan books at the Kuaidi100 e-waybill emulator, from one Hangzhou warehouse."""
    return {
        "kuaidi100_key": kuaidi100.key,
        "kuaidi100_secret": kuaidi100.secret,
        "kuaidi100_api_url": url,
        "kuaidi100_poll_url": url,
        "kuaidi100_waybill_accounts": json.dumps(
            {"zhongtong": {"partnerId": "DEMO", "tempId": "T-ZTO"}}
        ),
        "waybill_providers": "zhongtong=kuaidi100",
        "sender_name": "杭州仓",
        "sender_phone": "057188880000",
        "sender_province": "浙江省",
        "sender_city": "杭州市",
        "sender_district": "余杭区",
        "sender_street": "仓前街道1号",
    }


def run_jobs(demo: Demo) -> None:
    """What the worker would do now: the refund call, its settlement, the messages."""
    integrations = build_integrations(demo.settings)
    try:
        Worker(demo.database, build_handlers(demo.settings, integrations)).run_until_idle()
    finally:
        integrations.close()


def snap(page: Page, path: str, target: Path, full_page: bool) -> None:
    response = page.goto(path)
    assert response is not None
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(target), full_page=full_page)
    print(f"{target}  ({response.status} {page.url})")


def first_order(database: Database, *where: object) -> Order:
    with database.read() as session:
        order = session.scalars(select(Order).where(*where).order_by(Order.id).limit(1)).first()
    if order is None:
        raise LookupError("the demo has no such order")
    return order


def take_address(page: Page, demo: Demo, out: Path, full_page: bool) -> None:
    paid = first_order(demo.database, Order.status == OrderStatus.PAID, Order.hold_reason.is_(None))
    page.goto(sms_link(demo.database, paid.id))
    page.goto(f"/orders/{paid.public_no}/address")
    page.get_by_label("粘贴完整地址，自动识别").fill("李四 13912345678 上海市浦东新区张杨路500号")
    page.get_by_role("button", name="识别并填入").click()
    page.get_by_label("收货人").wait_for()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / "address-edit-zh.png"), full_page=full_page)
    print(out / "address-edit-zh.png")


def take_return_and_refund(page: Page, demo: Demo, out: Path, full_page: bool) -> None:
    """A damaged item photographed, approved by the rules and paid back through WeChat Pay."""
    order = first_order(
        demo.database,
        Order.status == OrderStatus.DELIVERED,
        Order.payment_method == PaymentMethod.WECHAT_PAY,
    )
    demo.payments.seed_payment(order.public_no, order.paid_fen)
    photo = Path(tempfile.mkstemp(suffix=".jpg")[1])
    photo_like(1200, (1200, 1600)).save(photo, "JPEG", quality=90)
    page.goto(sms_link(demo.database, order.id))
    page.goto(f"/orders/{order.public_no}/return")
    page.locator("select[name^=qty_]").first.select_option("1")
    page.get_by_label("原因").select_option("damaged")
    page.get_by_label("问题描述").fill("收到时外包装压坏，有裂纹")
    page.locator("#photo_input").set_input_files(str(photo))
    page.locator("#photo_list img").first.wait_for(timeout=15_000)
    page.screenshot(path=str(out / "return-form-zh.png"), full_page=full_page)
    print(out / "return-form-zh.png")
    page.get_by_role("button", name="提交申请").click()
    page.locator("#return_progress").wait_for()
    done = page.locator("#return_progress .headline", has_text="退款成功")
    deadline = time.monotonic() + 60
    # The refund call, then (once the gateway's notify is in) the settlement: as the worker
    # would run them, until the page, which polls by itself, says the money is back.
    while not done.is_visible():
        assert time.monotonic() < deadline, "the refund never completed"
        run_jobs(demo)
        page.wait_for_timeout(500)
    page.screenshot(path=str(out / "refund-progress-zh.png"), full_page=full_page)
    print(out / "refund-progress-zh.png")
    photo.unlink()


def take_staff(browser: Browser, playwright: Playwright, demo: Demo, out: Path) -> None:
    """The order page of a held high-value order, and the pack scan refusing it."""
    context = browser.new_context(base_url=demo.base_url, **phone_context_options(playwright))
    page = context.new_page()
    held = first_order(demo.database, Order.hold_reason == HoldReason.HIGH_VALUE)
    for role, target in ((Role.FINANCE, "staff-held-order-zh.png"), (Role.WAREHOUSE, None)):
        name, password = demo.staff[role]
        page.context.clear_cookies()
        page.goto("/admin/login")
        page.fill("#name", name)
        page.fill("#password", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        if target:
            snap(page, f"/admin/orders/{held.id}", out / target, False)
    page.goto("/warehouse/scan")
    page.locator("input[name=code]").fill(held.public_no)
    page.locator("input[name=code]").press("Enter")
    page.locator("#scan_result .scan-bad").wait_for()
    page.screenshot(path=str(out / "scan-held-zh.png"))
    print(out / "scan-held-zh.png")
    take_pack(page, demo, out)
    context.close()


def take_parcels(browser: Browser, playwright: Playwright, demo: Demo, out: Path) -> None:
    """A partly shipped order: two parcels on their way and one item still to pack.

    From the top of the page to the end of the parcels card, however tall.
    """
    order = first_order(demo.database, Order.status == OrderStatus.PARTIALLY_SHIPPED)
    for width, name in ((390, "tracking-parcels-zh.png"), (320, "tracking-parcels-zh-320.png")):
        options = {**phone_context_options(playwright), "viewport": {"width": width, "height": 664}}
        context = browser.new_context(base_url=demo.base_url, **options)
        page = context.new_page()
        page.goto(sms_link(demo.database, order.id))
        page.wait_for_load_state("networkidle")
        card = page.locator("#timeline").bounding_box()
        assert card is not None
        bottom = card["y"] + card["height"] + 12
        page.screenshot(
            path=str(out / name),
            full_page=True,
            clip={"x": 0, "y": 0, "width": width, "height": bottom},
        )
        print(out / name)
        context.close()


def take_wechat(browser: Browser, playwright: Playwright, demo: Demo, out: Path) -> None:
    """The tracking page in WeChat's browser, after the silent OAuth: the subscribe button.

    WeChat's own title bar takes the top of the screen, so the page gets the rest of it.
    """
    order_id = most_travelled(demo.database, OrderStatus.SHIPPED, TrackingStatus.IN_TRANSIT)
    options = phone_context_options(playwright)
    options["user_agent"] += " MicroMessenger/8.0.50(0x18003231) NetType/WIFI Language/zh_CN"
    options["viewport"] = {"width": 390, "height": 756}
    context = browser.new_context(base_url=demo.base_url, **options)
    context.route(
        "https://res.wx.qq.com/**",
        lambda route: route.fulfill(content_type="application/javascript", body=SDK_STUB),
    )
    page = context.new_page()
    page.goto(sms_link(demo.database, order_id))
    button = page.get_by_role("button", name="微信通知我")
    button.wait_for()
    button.scroll_into_view_if_needed()
    page.screenshot(path=str(out / "tracking-wechat-zh.png"))
    print(out / "tracking-wechat-zh.png")
    context.close()


def take_pack(page: Page, demo: Demo, out: Path) -> None:
    """The pack flow: the lines to put in the parcel, then the waybill booked with its label."""
    paid = first_order(demo.database, Order.status == OrderStatus.PAID, Order.hold_reason.is_(None))
    page.goto("/warehouse/scan")
    page.locator("input[name=code]").fill(paid.public_no)
    page.locator("input[name=code]").press("Enter")
    form = page.locator("#pack_form")
    form.wait_for()
    form.scroll_into_view_if_needed()
    page.screenshot(path=str(out / "pack-lines-zh.png"))
    print(out / "pack-lines-zh.png")
    form.locator("button[type=submit]").click()
    booked = page.locator("#pack_panel .scan-ok")
    booked.wait_for()
    booked.scroll_into_view_if_needed()
    page.screenshot(path=str(out / "pack-booked-zh.png"))
    print(out / "pack-booked-zh.png")


def take_all(
    browser: Browser, playwright: Playwright, demo: Demo, options: argparse.Namespace
) -> None:
    out: Path = options.out
    out.mkdir(parents=True, exist_ok=True)
    base_url, database = demo.base_url, demo.database
    in_transit = most_travelled(database, OrderStatus.SHIPPED, TrackingStatus.IN_TRANSIT)
    delivered = most_travelled(database, OrderStatus.DELIVERED, TrackingStatus.DELIVERED)
    # The customer of each order arrives through their SMS link, as in real life.
    for order_id, name in ((in_transit, "tracking-in-transit"), (delivered, "tracking-delivered")):
        context = browser.new_context(base_url=base_url, **phone_context_options(playwright))
        page = context.new_page()
        snap(page, sms_link(database, order_id), out / f"{name}-zh.png", options.full_page)
        if order_id == in_transit:
            english = f"/language?to=en&next={quote(f'/orders/{public_no_of(database, order_id)}')}"
            snap(page, english, out / f"{name}-en.png", options.full_page)
        context.close()
    take_parcels(browser, playwright, demo, out)
    take_wechat(browser, playwright, demo, out)
    # The narrowest phones still sold: 320 CSS pixels.
    narrow = {**phone_context_options(playwright), "viewport": {"width": 320, "height": 640}}
    context = browser.new_context(base_url=base_url, **narrow)
    page = context.new_page()
    snap(page, sms_link(database, in_transit), out / "tracking-in-transit-zh-320.png", False)
    context.close()
    context = browser.new_context(base_url=base_url, **phone_context_options(playwright))
    page = context.new_page()
    snap(page, "/lookup", out / "lookup-zh.png", options.full_page)
    snap(page, "/t/23456789", out / "link-problem-zh.png", options.full_page)
    take_address(page, demo, out, options.full_page)
    context.close()
    context = browser.new_context(base_url=base_url, **phone_context_options(playwright))
    take_return_and_refund(context.new_page(), demo, out, options.full_page)
    context.close()
    take_staff(browser, playwright, demo, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="where the PNGs go")
    parser.add_argument(
        "--full-page", action="store_true", help="the whole page, not just one phone screen"
    )
    options = parser.parse_args()
    print(f"taking {PHONE} screenshots into {options.out}")
    with (
        tempfile.TemporaryDirectory() as directory,
        demo_portal(Path(directory)) as demo,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        try:
            take_all(browser, playwright, demo, options)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
