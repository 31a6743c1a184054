"""Ship confirmations: confirmations/s through the real job handler, platforms on loopback.

Each confirmation is what happens after a waybill is recorded: the `channel.confirm_shipment`
job row (queued by `record_waybill`, backend/fulfilment/waybills.py) is claimed by one
`backend.jobs.worker.Worker` with the portal's own handlers (portal/background.py), which
plans it (the confirmation record, its idempotency key), calls the shop's platform through
its adapter (backend/orders/channels/ship_confirm/) and settles the record with an audit
event. The platforms are the channel emulators (emulators/channels.py), one per
marketplace on loopback, wired the way `make run` wires them (portal/demo_services.py);
half the orders are Taobao's (TOP `taobao.logistics.offline.send`), half Douyin's.

The baseline, in the same run, on the same database and worker, is as many jobs of a kind
whose handler does nothing: the cost of claiming and finishing a job row. Figures are
printed as ratios to it, so a slower machine moves both. Afterwards every confirmation
record must be CONFIRMED after exactly one attempt (one call to its platform) and no job
left unfinished, or the benchmark fails instead of printing a figure.

PORTAL_BENCH_CONFIRMATIONS (400) sets how many parcels are confirmed per database.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select

from backend.clock import utcnow
from backend.db import Database
from backend.fulfilment.confirmations import CONFIRM_SHIPMENT
from backend.fulfilment.models import ConfirmationStatus, ShipConfirmationRecord
from backend.fulfilment.waybills import WaybillSource, record_waybill
from backend.jobs.models import Job, JobStatus
from backend.jobs.queue import enqueue
from backend.jobs.worker import Worker
from backend.migrate import upgrade
from backend.orders.lifecycle import OrderAction
from backend.orders.models import SalesChannel
from backend.orders.service import NewAddress, NewLine, NewOrder, apply_action
from bench import BENCH_ACTOR, Backend, _reset_postgres, list_backends, row, scratch_directory
from portal.background import build_handlers
from portal.demo_services import _with_channels
from portal.integrations import build_integrations
from portal.settings import Settings
from tests.factories import place_order

PARCELS = int(os.environ.get("PORTAL_BENCH_CONFIRMATIONS", "400"))
PLATFORMS = (SalesChannel.TAOBAO, SalesChannel.DOUYIN)
NOTHING = "bench.nothing"


def seed_packed_parcels(database: Database, count: int) -> None:
    """Packed orders through the order services, each with a waybill recorded as by an ERP."""
    placed = utcnow() - timedelta(hours=1)
    for number in range(count):
        channel = PLATFORMS[number % len(PLATFORMS)]
        phone = f"139{number:08d}"
        order_id = place_order(
            database,
            NewOrder(
                channel=channel,
                channel_order_no=f"BENCH-{channel}-{number:06d}",
                customer_name="周七",
                customer_phone=phone,
                address=NewAddress("周七", phone, "浙江省", "杭州市", "西湖区", "文三路8号"),
                lines=[NewLine("TEA-1", "西湖龙井 250g", 1, 12_800)],
                placed_at=placed,
            ),
            BENCH_ACTOR,
        )
        for action in (OrderAction.PAY, OrderAction.START_PICKING, OrderAction.PACK):
            apply_action(database, order_id, action, BENCH_ACTOR)
        record_waybill(
            database,
            order_id,
            "zhongtong",
            f"ZT75{number:010d}",
            BENCH_ACTOR,
            source=WaybillSource.ERP,
        )
    # Only the confirmations are timed: the tracking and notice jobs the waybills also
    # queued are someone else's figure.
    with database.write() as session:
        session.execute(delete(Job).where(Job.kind != CONFIRM_SHIPMENT))


def drain(worker: Worker) -> float:
    started = time.perf_counter()
    worker.run_until_idle(limit=PARCELS * 2)
    return time.perf_counter() - started


def check(database: Database) -> str:
    with database.read() as session:
        outcomes = session.execute(
            select(
                ShipConfirmationRecord.status, ShipConfirmationRecord.attempts, func.count()
            ).group_by(ShipConfirmationRecord.status, ShipConfirmationRecord.attempts)
        ).all()
        left = session.scalar(
            select(func.count()).select_from(Job).where(Job.status != JobStatus.DONE)
        )
    if [(status, attempts, n) for status, attempts, n in outcomes] != [
        (ConfirmationStatus.CONFIRMED, 1, PARCELS)
    ] or left:
        raise AssertionError(f"confirmations {outcomes}, unfinished jobs {left}")
    return f"{PARCELS} confirmed once each"


def measure_backend(backend: Backend, directory: Path) -> list[str]:
    if not backend.is_sqlite:
        _reset_postgres(backend.url)
    upgrade(backend.url)
    database = Database(backend.url)
    with ExitStack() as stack:
        base = Settings(database_url=backend.url, photo_dir=str(directory / "photos"))
        settings = _with_channels(base, stack)
        integrations = build_integrations(settings)
        stack.callback(integrations.close)
        handlers = build_handlers(settings, integrations)
        seed_packed_parcels(database, PARCELS)
        confirm_seconds = drain(Worker(database, handlers))
        verdict = check(database)
        with database.write() as session:
            for _ in range(PARCELS):
                enqueue(session, NOTHING, {})
        idle = {**handlers, NOTHING: lambda _db, _payload: None}
        nothing_seconds = drain(Worker(database, idle))
    database.dispose()
    confirm_rate, nothing_rate = PARCELS / confirm_seconds, PARCELS / nothing_seconds
    print(
        f"  {backend.label}: {confirm_rate:,.0f} confirmations/s "
        f"({confirm_seconds * 1000 / PARCELS:.1f} ms each), a job doing nothing "
        f"{nothing_rate:,.0f}/s; {verdict}"
    )
    context = f"{verdict}; Taobao and Douyin emulators on loopback; one worker"
    return [
        row(
            "ship confirmations",
            f"{backend.label}, confirmations/s vs. a no-op job",
            f"{confirm_rate / nothing_rate:.2f}× ({confirm_rate:,.0f}/s vs {nothing_rate:,.0f}/s)",
            context,
        )
    ]


def run() -> list[str]:
    print("== ship confirmations: the job handler against loopback Taobao and Douyin ==")
    print(
        f"  {PARCELS} parcels per database, one worker in this process; baseline: as many "
        "jobs whose handler does nothing, same worker and database"
    )
    summary: list[str] = []
    with scratch_directory() as directory:
        for backend in list_backends(directory):
            summary += measure_backend(backend, directory)
    return summary


if __name__ == "__main__":
    print("\n".join(run()))
