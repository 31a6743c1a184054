"""Phone-sized screenshots of the customer pages, from the demo data: docs/screenshots/*.png.

Run with `.venv/bin/python -m tests.browser.screenshots [--out DIR] [--full-page]`. The demo
is seeded into a throwaway SQLite database and served on a free port; nothing else is touched.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from sqlalchemy import func, select

from backend.db import Database
from backend.demo import seed_orders, seed_staff
from backend.logistics.models import Shipment, TrackingEvent
from backend.logistics.status import TrackingStatus
from backend.migrate import upgrade
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from portal.app import create_app
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


@contextmanager
def demo_portal(directory: Path) -> Iterator[tuple[str, Database]]:
    url = f"sqlite:///{directory / 'demo.db'}"
    upgrade(url)
    database = Database(url)
    sock = bind_free_port()
    try:
        seed_orders(database)
        seed_staff(database)
        settings = Settings(
            database_url=url,
            secret_keys=(secrets.token_urlsafe(32),),
            base_url=url_of(sock),
            # Still pictures: the sandbox carrier must not move parcels while they are taken.
            embedded_worker=False,
        )
        with serving(create_app(settings, database), sock):
            yield settings.base_url, database
    finally:
        sock.close()
        database.dispose()


def snap(page: Page, path: str, target: Path, full_page: bool) -> None:
    response = page.goto(path)
    assert response is not None
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(target), full_page=full_page)
    print(f"{target}  ({response.status} {page.url})")


def take_all(
    browser: Browser,
    playwright: Playwright,
    base_url: str,
    database: Database,
    options: argparse.Namespace,
) -> None:
    out: Path = options.out
    out.mkdir(parents=True, exist_ok=True)
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
    context = browser.new_context(base_url=base_url, **phone_context_options(playwright))
    page = context.new_page()
    snap(page, "/lookup", out / "lookup-zh.png", options.full_page)
    snap(page, "/t/23456789", out / "link-problem-zh.png", options.full_page)
    context.close()


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
        demo_portal(Path(directory)) as (base_url, database),
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        try:
            take_all(browser, playwright, base_url, database, options)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
