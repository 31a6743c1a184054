"""Pack and book through the scan page: parcels/s and p99 with the e-waybill emulator on loopback.

Each parcel is what a packer does on the phone: POST /warehouse/scan (packed, address
locked, the lines to pack shown), then POST /warehouse/orders/{id}/parcels (the waybill
booked at the Kuaidi100 e-waybill emulator, the label PDF fetched, the parcel and its
label recorded). The baseline, in the same run against the same server, is the scan
alone on other orders: the figures are printed as ratios to it, so a slower machine
moves both. The emulator runs in a thread of this process, as do the packers (httpx
clients, PACKERS of them at once); a booking's answer is checked for its waybill number
and the database is counted afterwards (one parcel and one label per order).

PORTAL_* variables in the environment reach the server, e.g. PORTAL_THREADS=1.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select

from backend.db import Database
from backend.logistics.models import ParcelLabel, Shipment
from backend.orders.models import Order
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from bench import BENCH_ACTOR, Backend, list_backends, row, scratch_directory, seed_demo
from bench.pack_scans import (
    STAFF_NAME,
    STAFF_PASSWORD,
    percentile,
    scan_headers,
    seed_paid_orders,
    sign_in,
)
from bench.push_callbacks import serve, server_environment
from bench.tracking_page import _free_port
from emulators.kuaidi100 import TEST_SECRET, Kuaidi100Emulator
from emulators.serving import serve_in_thread
from portal.i18n import translations

ORDERS = int(os.environ.get("PORTAL_BENCH_BOOK_ORDERS", "300"))
PACKERS = int(os.environ.get("PORTAL_BENCH_PACKERS", "4"))
WARMUP_ORDERS = 20
BOOKED = translations("zh_CN").gettext("Waybill booked: %(carrier)s %(number)s").split("%")[0]
ACCOUNTS = {"zhongtong": {"partnerId": "BENCHPARTNER", "tempId": "T-ZTO"}}


@dataclass(frozen=True)
class Run:
    parcels: int
    seconds: float
    latencies_ms: list[float]
    failures: int

    @property
    def rate(self) -> float:
        return self.parcels / self.seconds if self.seconds else 0.0

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 0.99) if self.latencies_ms else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 0.5) if self.latencies_ms else 0.0


def orders_of(database: Database, prefix: str) -> list[tuple[int, str]]:
    with database.read() as session:
        rows = session.execute(
            select(Order.id, Order.public_no)
            .where(Order.channel_order_no.startswith(prefix))
            .order_by(Order.id)
        ).all()
    return [(order_id, public_no) for order_id, public_no in rows]


def drive(
    work: list[tuple[int, str]],
    step: Callable[[httpx.Client, int, str], bool],
    headers: dict[str, str],
    base: str,
) -> Run:
    """PACKERS clients take orders off one queue until it is empty."""
    todo: queue.Queue[tuple[int, str]] = queue.Queue()
    for item in work:
        todo.put(item)
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def packer() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while True:
                try:
                    order_id, public_no = todo.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                ok = step(client, order_id, public_no)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    failures[0] += 0 if ok else 1

    threads = [threading.Thread(target=packer) for _ in range(PACKERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(len(work), time.perf_counter() - started, latencies, failures[0])


def scan_only(client: httpx.Client, _order_id: int, public_no: str) -> bool:
    return client.post("/warehouse/scan", data={"code": public_no}).status_code == 200


def pack_and_book(client: httpx.Client, order_id: int, public_no: str) -> bool:
    if not scan_only(client, order_id, public_no):
        return False
    # No quantities sent: everything left goes in the parcel, as the form's defaults say.
    answer = client.post(f"/warehouse/orders/{order_id}/parcels", data={"parcel_no": "1"})
    return answer.status_code == 200 and BOOKED in answer.text


def environment(backend: Backend, base: str, directory: Path, emulator_url: str) -> dict[str, str]:
    env = server_environment(backend.url, base, directory)
    env.update(
        {
            "PORTAL_KUAIDI100_KEY": "TESTKEY",
            "PORTAL_KUAIDI100_SECRET": TEST_SECRET,
            "PORTAL_KUAIDI100_API_URL": emulator_url,
            "PORTAL_KUAIDI100_POLL_URL": emulator_url,
            "PORTAL_KUAIDI100_WAYBILL_ACCOUNTS": json.dumps(ACCOUNTS),
            "PORTAL_WAYBILL_PROVIDERS": "zhongtong=kuaidi100",
            "PORTAL_WAYBILL_DEFAULT_CARRIER": "zhongtong",
            "PORTAL_SENDER_NAME": "杭州仓",
            "PORTAL_SENDER_PHONE": "057188880000",
            "PORTAL_SENDER_PROVINCE": "浙江省",
            "PORTAL_SENDER_CITY": "杭州市",
            "PORTAL_SENDER_DISTRICT": "余杭区",
            "PORTAL_SENDER_STREET": "仓前街道1号",
        }
    )
    return env


def count_booked(database: Database, prefix: str) -> tuple[int, int]:
    in_set = Order.channel_order_no.startswith(prefix)
    with database.read() as session:
        parcels = session.scalar(
            select(func.count()).select_from(Shipment).join(Order).where(in_set)
        )
        labels = session.scalar(
            select(func.count())
            .select_from(ParcelLabel)
            .join(Shipment, Shipment.id == ParcelLabel.shipment_id)
            .join(Order)
            .where(in_set)
        )
    return parcels or 0, labels or 0


def measure_backend(backend: Backend, directory: Path) -> list[str]:
    database = seed_demo(backend)
    try:
        add_staff(database, STAFF_NAME, Role.WAREHOUSE, STAFF_PASSWORD, BENCH_ACTOR)
        for prefix, count in (("BOOKW", WARMUP_ORDERS), ("BOOKS", ORDERS), ("BOOKB", ORDERS)):
            seed_paid_orders(database, prefix, count)
        emulator = Kuaidi100Emulator()
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        with serve_in_thread(emulator.app) as emulator_url:
            server = serve(environment(backend, base, directory, emulator_url), port)
            with server:
                headers = scan_headers(sign_in(base))
                drive(orders_of(database, "BOOKW"), pack_and_book, headers, base)
                baseline = drive(orders_of(database, "BOOKS"), scan_only, headers, base)
                booked = drive(orders_of(database, "BOOKB"), pack_and_book, headers, base)
        parcels, labels = count_booked(database, "BOOKB")
    finally:
        database.dispose()
    return report(backend, baseline, booked, parcels, labels, len(emulator.bookings))


def report(
    backend: Backend, baseline: Run, booked: Run, parcels: int, labels: int, bookings: int
) -> list[str]:
    for name, run in (("scan only (baseline)", baseline), ("scan + book + label", booked)):
        print(
            f"    {backend.label:10} {name:22} {run.rate:6.1f}/s, p50 {run.p50_ms:6.1f} ms, "
            f"p99 {run.p99_ms:6.1f} ms, {run.failures} failed"
        )
    rate = booked.rate / baseline.rate if baseline.rate else 0.0
    p99 = booked.p99_ms / baseline.p99_ms if baseline.p99_ms else 0.0
    same = "one each" if parcels == labels == ORDERS else "!! MISMATCH"
    print(
        f"    {'':10} {parcels} parcels, {labels} labels for {ORDERS} orders ({same}); "
        f"{bookings} bookings at the emulator (warm-up included)"
    )
    figure = f"{rate:.2f}x the scan's rate, {p99:.2f}x its p99"
    context = (
        f"{booked.rate:.1f} parcels/s, p99 {booked.p99_ms:.0f} ms vs scan {baseline.rate:.1f}/s, "
        f"p99 {baseline.p99_ms:.0f} ms; {PACKERS} packers; {booked.failures} failed; {same}"
    )
    return [
        row("pack and book", f"{backend.label}, scan page + e-waybill emulator", figure, context)
    ]


def run() -> list[str]:
    print("== pack and book: scan, then book the waybill, through the scan page ==")
    print(
        f"  one uvicorn worker; {PACKERS} packers (httpx, this process) each scanning and booking; "
        f"{ORDERS} orders booked, {ORDERS} others only scanned as the baseline, after "
        f"{WARMUP_ORDERS} warm-up parcels; Kuaidi100 e-waybill emulator on loopback"
    )
    summary: list[str] = []
    with scratch_directory() as directory:
        for backend in list_backends(directory):
            summary += measure_backend(backend, directory)
    return summary


if __name__ == "__main__":
    print("\n".join(run()))
