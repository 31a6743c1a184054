"""Two Tmall stores behind a loopback TOP: a shops file, signed pushes, and shipping an order."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from backend.db import Database
from backend.fulfilment.confirmations import CONFIRM_SHIPMENT
from backend.fulfilment.waybills import WaybillSource, record_waybill
from backend.jobs.worker import Worker
from backend.orders.channels import signatures as sig
from backend.orders.inventory import save_sku
from backend.orders.models import Order
from emulators.channels import ChannelEmulator
from emulators.serving import serve_in_thread
from portal.app import create_app
from portal.background import build_handlers
from portal.integrations import build_integrations
from portal.settings import Settings
from tests.backend.orders.channels.recorded import load_payload
from tests.factories import SYSTEM

SHOPS = {
    # code: (app key, secret)
    "tmall-flagship": ("flagship-key", "flagship-secret-0123"),
    "tmall-outlet": ("outlet-key", "outlet-secret-4567"),
}


def write_shops_file(folder: Path, top_url: str) -> Path:
    blocks = []
    for index, (code, (key, secret)) in enumerate(SHOPS.items()):
        blocks.append(
            "[[shops]]\n"
            f'code = "{code}"\nchannel = "tmall"\nname = "天猫{code}"\n'
            f'app_key = "{key}"\napp_secret = "{secret}"\nsession_token = "session-{code}"\n'
            f'api_base_url = "{top_url}/router/rest"\nplatform_shop_id = "seller-{index}"\n'
            f"default = {'true' if index == 0 else 'false'}\n"
        )
    path = folder / "shops.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


@dataclass
class TwoShops:
    settings: Settings
    top: ChannelEmulator


@contextmanager
def two_tmall_shops(settings: Settings, folder: Path) -> Iterator[TwoShops]:
    top = ChannelEmulator("taobao", dict(SHOPS.values()))
    with serve_in_thread(top.app) as url:
        yield TwoShops(replace(settings, shops_file=str(write_shops_file(folder, url))), top)


def tmall_push(tid: int, phone: str, secret: str, case: str = "normal") -> dict[str, str]:
    trade = load_payload("tmall", case)
    trade |= {"tid": tid, "tid_str": str(tid), "receiver_mobile": phone}
    for index, line in enumerate(trade["orders"]["order"], 1):
        line["oid"] = tid + index
    params = {
        "app_key": "push",
        "timestamp": "2026-11-22 12:00:00",
        "sign_method": "md5",
        "trade": json.dumps(trade, ensure_ascii=False),
    }
    return params | {"sign": sig.build_top_signature(params, secret)}


def run_jobs(database: Database, settings: Settings, *kinds: str) -> int:
    """The app's own handlers for `kinds`, run by a real worker until nothing is due."""
    integrations = build_integrations(settings)
    try:
        handlers = build_handlers(settings, integrations)
        return Worker(database, {kind: handlers[kind] for kind in kinds}).run_until_idle()
    finally:
        integrations.close()


def take_orders(client: TestClient, database: Database, settings: Settings) -> None:
    run_jobs(database, settings, "intake.ingest")


def order_of(database: Database, tid: int) -> Order:
    with database.read() as session:
        order = session.scalars(select(Order).where(Order.channel_order_no == str(tid))).one()
        session.expunge(order)
        return order


def ship(
    database: Database,
    order_id: int,
    carrier: str,
    waybill: str,
    lines: Mapping[int, int] | None = None,
) -> int:
    """The waybill recorded as the merchant's ERP reports it: the parcel leaves, the job waits."""
    recorded = record_waybill(
        database, order_id, carrier, waybill, SYSTEM, source=WaybillSource.ERP, lines=lines
    )
    return recorded.shipment_id


def stock(database: Database) -> None:
    save_sku(database, "AIR-PURIFIER-X1", "空气净化器 X1", 20, 80_000, SYSTEM)
    save_sku(database, "FILTER-X1", "滤芯 X1", 20, 2_000, SYSTEM)


def app_client(settings: Settings, database: Database) -> TestClient:
    return TestClient(create_app(settings, database))


CONFIRM = CONFIRM_SHIPMENT
