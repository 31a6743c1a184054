"""A promotion peak on PostgreSQL: two web processes and two workers, restarted under load.

`portal serve --no-worker` on two loopback ports and `portal worker --name peak-1/-2`, real
processes with their own environment, on one freshly seeded database. For
PORTAL_BENCH_PEAK_SECONDS (45) at once: signed Shopify order webhooks and Taobao trade
pushes at a fixed rate, Kuaidi100 full-history pushes for parcels that left today (picked
up, out for delivery, signed for), and customers opening tracking pages through SMS short
codes and signed links, spread over both ports (bench/peak_traffic.py). A third of the way
in, one web process and one worker get SIGTERM (each must finish what it holds and exit 0)
and are started again; at two thirds the other two get SIGKILL and are started again.
Clients resend whatever was not acknowledged, same body and event id, as channels and
carriers do. Customer messages go to the SMS emulator on loopback (quiet hours off).

Then the workers drain the queue (at most PORTAL_BENCH_PEAK_DRAIN_SECONDS, 300) and the
checks run (bench/peak_checks.py): every acknowledged order delivery one order, every
acknowledged push's events stored once, every parcel transition one outbox row, every
row texted once at most. A check that fails makes the benchmark fail (exit status 1).

The driver (one asyncio process, httpx, plus the SMS emulator's thread) shares the two
cores with the four processes and PostgreSQL; its own CPU share is printed beside the
figures.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from backend.db import Database
from backend.orders.models import Order, SalesChannel
from bench import POSTGRES_URL_VARIABLE, Backend, row, scratch_directory, seed_demo
from bench import channel_intake as intake_bench
from bench.peak_checks import (
    Check,
    Queue,
    check_notices,
    check_orders,
    check_sends,
    check_tracking,
    list_order_ids,
    read_queue,
)
from bench.peak_fleet import Member, Restart, stop_all, web_member, worker_member
from bench.peak_seed import (
    TAOBAO_SECRET,
    kuaidi100_pushes,
    longest_acked,
    page_visits,
    seed_parcels,
    shopify_orders,
    taobao_orders,
)
from bench.peak_traffic import Delivery, PageVisit, Tally, Traffic, percentile, post_client
from bench.push_callbacks import portal_worker, server_environment
from bench.tracking_page import _free_port
from emulators.notifications import DEMO_ALIYUN_KEYS, NotificationEmulator
from emulators.serving import serve_in_thread

SECONDS = float(os.environ.get("PORTAL_BENCH_PEAK_SECONDS", "45"))
SHOPIFY_PER_SECOND = float(os.environ.get("PORTAL_BENCH_PEAK_SHOPIFY_RATE", "10"))
TAOBAO_PER_SECOND = float(os.environ.get("PORTAL_BENCH_PEAK_TAOBAO_RATE", "2"))
PARCELS = int(os.environ.get("PORTAL_BENCH_PEAK_PARCELS", "150"))
CUSTOMERS = int(os.environ.get("PORTAL_BENCH_PEAK_CUSTOMERS", "4"))
DRAIN_SECONDS = float(os.environ.get("PORTAL_BENCH_PEAK_DRAIN_SECONDS", "300"))
CONNECTIONS = 64
# The load goes on this long after each restart, so the next one still meets it.
LOAD_AFTER_RESTART_SECONDS = 10.0
# Orders are signed for up to this many times the load's length (restarts lengthen it).
SPARE = 3
# Resends still going this long after the load are cut off (and reported).
SETTLE_SECONDS = 60.0
SMS_TEMPLATES = ",".join(
    f"{event}=SMS_PEAK_{index}"
    for index, event in enumerate(
        (
            "shipped",
            "out_for_delivery",
            "available_for_pickup",
            "delivered",
            "failed_attempt",
            "exception",
        )
    )
)


@dataclass(frozen=True)
class Sends:
    """Everything the clients will send, signed before the load starts."""

    shopify: list[Delivery]
    taobao: list[Delivery]
    pushes: list[Delivery]
    visits: list[PageVisit]


class PeakFailed(Exception):
    """A check found an order, event or message lost or duplicated."""


@dataclass(frozen=True)
class Outcome:
    traffic: Traffic
    restarts: list[Restart]
    final_stops: list[tuple[str, int | None]]
    seconds: float
    driver_cpu_seconds: float
    ingested_during_load: int
    drain_seconds: float
    ingested_total: int
    unsettled: int


def environment_for(url: str, base: str, directory: Path, sms_url: str) -> dict[str, str]:
    environment = server_environment(url, base, directory)
    (key_id, key_secret), *_ = DEMO_ALIYUN_KEYS.items()
    environment |= {
        "PORTAL_SHOPIFY_WEBHOOK_SECRET": intake_bench.SHOPIFY_SECRET,
        "PORTAL_CHANNEL_SECRETS": f"taobao={TAOBAO_SECRET}",
        "PORTAL_ALIYUN_SMS_ACCESS_KEY_ID": key_id,
        "PORTAL_ALIYUN_SMS_ACCESS_KEY_SECRET": key_secret,
        "PORTAL_ALIYUN_SMS_SIGN_NAME": "订单助手",
        "PORTAL_ALIYUN_SMS_ENDPOINT": sms_url,
        "PORTAL_SMS_TEMPLATES": SMS_TEMPLATES,
        "PORTAL_QUIET_HOURS": "00:00-00:00",  # never quiet: the drain must not wait for 08:00
    }
    return environment


def count_channel_orders(database: Database) -> int:
    channels = (SalesChannel.SHOPIFY, SalesChannel.TAOBAO)
    with database.read() as session:
        return session.scalar(select(func.count()).where(Order.channel.in_(channels))) or 0


async def restart_pairs(web: list[Member], workers: list[Member], traffic: Traffic) -> None:
    """SIGTERM one web process and one worker; once they are back, SIGKILL the other two.
    The load goes on until the second pair is back too (a slow start pushes its end back)."""
    next_at = SECONDS / 3
    for how, index in ((signal.SIGTERM, 0), (signal.SIGKILL, 1)):
        await asyncio.sleep(max(next_at - traffic.now(), 0))
        moment, pair = traffic.now(), (web[index], workers[index])
        done = await asyncio.gather(*(member.restart(how, moment) for member in pair))
        for restart in done:
            print(f"    restart {restart.describe()}", flush=True)
        next_at = max(2 * SECONDS / 3, traffic.now() + LOAD_AFTER_RESTART_SECONDS)
    traffic.stop_at = max(traffic.stop_at, traffic.now() + LOAD_AFTER_RESTART_SECONDS)


async def drain(database: Database) -> float:
    """Until no job is left to run (the periodic ones aside), or the budget is spent."""
    started = last_word = time.perf_counter()
    while time.perf_counter() - started < DRAIN_SECONDS:
        queue = await asyncio.to_thread(read_queue, database)
        if queue.pending == queue.running == 0:
            break
        if time.perf_counter() - last_word > 30:
            last_word = time.perf_counter()
            print(f"    draining: {queue.pending:,} jobs pending", flush=True)
        await asyncio.sleep(1)
    return time.perf_counter() - started


async def run_peak(
    database: Database, environment: dict[str, str], directory: Path, sends: Sends
) -> Outcome:
    ports = [_free_port(), _free_port()]
    web = [web_member(f"web-{n}", port, environment, directory) for n, port in enumerate(ports, 1)]
    workers = [worker_member(f"peak-{n}", environment, directory) for n in (1, 2)]
    fleet = [*web, *workers]
    await asyncio.gather(*(member.start() for member in fleet))
    print(f"    4 processes up (web on ports {ports[0]} and {ports[1]}); load starts", flush=True)
    before = count_channel_orders(database)
    cpu, started = time.process_time(), time.perf_counter()
    traffic = Traffic(ports, started)
    traffic.stop_at = SECONDS
    try:
        async with post_client(CONNECTIONS) as client:
            await asyncio.gather(
                traffic.send_at_rate(client, sends.shopify, SHOPIFY_PER_SECOND),
                traffic.send_at_rate(client, sends.taobao, TAOBAO_PER_SECOND),
                traffic.send_at_rate(client, sends.pushes, push_rate(sends), repeat=True),
                traffic.visit_pages(sends.visits, CUSTOMERS),
                restart_pairs(web, workers, traffic),
            )
            seconds = traffic.now()
            during = count_channel_orders(database) - before
            cpu_seconds = time.process_time() - cpu
            unsettled = await traffic.settle(seconds + SETTLE_SECONDS)
        drained = await drain(database)
    finally:
        await stop_all(fleet)
    final = [(m.name, m.process.returncode if m.process else None) for m in fleet]
    restarts = [restart for member in fleet for restart in member.restarts]
    total = count_channel_orders(database) - before
    return Outcome(
        traffic, restarts, final, seconds, cpu_seconds, during, drained, total, unsettled
    )


def push_rate(sends: Sends) -> float:
    """The pushes spread over nine tenths of the load (then sent again, as carriers do)."""
    return len(sends.pushes) / (SECONDS * 0.9)


def measure(url: str) -> list[str]:
    started = time.perf_counter()
    database = seed_demo(Backend("PostgreSQL", url))
    try:
        intake_bench.seed_skus(database)
        parcels = seed_parcels(database, PARCELS)
        shopify, shopify_numbers = shopify_orders(int(SHOPIFY_PER_SECOND * SECONDS * SPARE))
        taobao, taobao_numbers = taobao_orders(int(TAOBAO_PER_SECOND * SECONDS * SPARE))
        pushes, sizes = kuaidi100_pushes(parcels)
        visits = page_visits(database, parcels)
        sends = Sends(shopify, taobao, pushes, visits)
        emulator = NotificationEmulator()
        with scratch_directory() as directory, serve_in_thread(emulator.app) as sms_url:
            environment = environment_for(url, "http://127.0.0.1:8000", directory, sms_url)
            with portal_worker(database, environment) as worker:
                seed_jobs = worker.run_until_idle()  # the demo orders' texts, the subscriptions
            print(
                f"\n  PostgreSQL: demo orders, {len(parcels)} packed parcels seeded, "
                f"{seed_jobs} seed jobs run, {len(shopify):,} Shopify + {len(taobao):,} Taobao "
                f"orders and {len(pushes):,} pushes signed in {time.perf_counter() - started:.1f} s"
            )
            before = list_order_ids(database)
            load_before = os.getloadavg()
            outcome = asyncio.run(run_peak(database, environment, directory, sends))
            load_after = os.getloadavg()
            tallies = outcome.traffic.tallies
            checks = [
                check_orders(
                    database, "shopify", shopify_numbers, tallies["shopify"].acked, before
                ),
                check_orders(database, "taobao", taobao_numbers, tallies["taobao"].acked, before),
                check_tracking(
                    database,
                    {p.tracking_no: p.shipment_id for p in parcels},
                    longest_acked(sizes, tallies["push"].acked),
                ),
                check_notices(database, [p.shipment_id for p in parcels]),
                check_sends(database, Counter(m["out_id"] for m in emulator.sent("sms"))),
            ]
            queue = read_queue(database)
    finally:
        database.dispose()
    lines = report(outcome, checks, queue, load_before, load_after)
    failed = [check for check in checks if not check.passed]
    stops_clean = all(r.clean for r in outcome.restarts) and all(
        status == 0 for _name, status in outcome.final_stops
    )
    if failed or not stops_clean or queue.dead or outcome.unsettled:
        raise PeakFailed("; ".join(check.describe() for check in failed) or "see above")
    return lines


def describe_tally(name: str, tally: Tally, seconds: float, calm: float) -> str:
    """Rate over the load, latency of the acknowledged answers, and before the first restart."""
    rate = len([t for t in tally.ack_times if t <= seconds]) / seconds
    before = [ms for ms, t in zip(tally.latencies_ms, tally.ack_times, strict=True) if t < calm]
    errors = ", ".join(f"{n:,} {kind}" for kind, n in tally.errors.most_common()) or "no errors"
    return (
        f"{name:<14} {rate:7,.1f}/s, p50 {percentile(tally.latencies_ms, 0.5):6.1f} ms, "
        f"p99 {percentile(tally.latencies_ms, 0.99):7.1f} ms (before the restarts p99 "
        f"{percentile(before, 0.99):.1f} ms); {len(tally.latencies_ms):,} ok of "
        f"{tally.attempts:,} attempts; {errors}"
        + (f"; {len(tally.given_up)} GIVEN UP" if tally.given_up else "")
    )


def report(
    outcome: Outcome,
    checks: list[Check],
    queue: Queue,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> list[str]:
    # Rates over the load's own window; resends and slow answers may land after it.
    tallies, seconds = outcome.traffic.tallies, outcome.traffic.stop_at
    calm = min((restart.at_seconds for restart in outcome.restarts), default=seconds)
    for name in ("shopify", "taobao", "push", "link", "tracking page"):
        print(f"    {describe_tally(name, tallies[name], seconds, calm)}")
    for restart in outcome.restarts:
        if not restart.clean:
            print(f"    !! {restart.name}: a {restart.how} ended in {restart.exit_status}")
    final = ", ".join(f"{name} exit {status}" for name, status in outcome.final_stops)
    print(f"    at the end (SIGTERM): {final}")
    acks = sum(
        len([t for t in tallies[k].ack_times if t <= seconds])
        for k in ("shopify", "taobao", "push")
    )
    ingest_rate = outcome.ingested_during_load / outcome.seconds
    overall = outcome.ingested_total / (outcome.seconds + outcome.drain_seconds)
    driver = outcome.driver_cpu_seconds / outcome.seconds
    print(
        f"    {acks / seconds:,.1f} acknowledgements/s over {seconds:.0f} s; "
        f"{ingest_rate:,.1f} orders/s created during the load, {overall:,.1f}/s until "
        f"drained ({outcome.ingested_total:,} orders, drained {outcome.drain_seconds:.0f} s "
        f"after the load); driver CPU {driver:.0%} of one core"
    )
    print(
        f"    jobs left: {queue.pending} pending, {queue.running} running, {queue.dead} dead; "
        "failed once or more: "
        + (", ".join(f"{n} {why}" for why, n in queue.errors.most_common()) or "none")
    )
    if outcome.unsettled:
        print(f"    !! {outcome.unsettled} deliveries still being resent {SETTLE_SECONDS:.0f} s on")
    for check in checks:
        print(f"    {check.describe()}")
    load = f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    page, push = tallies["tracking page"], tallies["push"]
    errors: Counter[str] = Counter()
    for tally in tallies.values():
        errors.update(tally.errors)
    restarts = "; ".join(
        f"{r.how} {r.name}: stop {r.stop_seconds:.1f} s, up {r.start_seconds:.1f} s"
        for r in outcome.restarts
    )
    verdict = "PASS" if all(check.passed for check in checks) else "FAIL"
    return [
        row(
            "peak",
            "PostgreSQL, 2 web + 2 workers",
            f"{acks / seconds:,.0f} acks/s, {ingest_rate:,.0f} orders/s created",
            f"{seconds:.0f} s; drained {outcome.drain_seconds:.0f} s later; {load}; "
            f"driver CPU {driver:.0%} of a core",
        ),
        row(
            "peak",
            "PostgreSQL, tracking page and pushes",
            f"page p99 {percentile(page.latencies_ms, 0.99):,.0f} ms, push p99 "
            f"{percentile(push.latencies_ms, 0.99):,.0f} ms",
            ", ".join(f"{n:,} {kind}" for kind, n in errors.most_common()) or "no errors",
        ),
        row("peak", "PostgreSQL, restarts", restarts, f"checks: {verdict}"),
    ]


def run() -> list[str]:
    print("== promotion peak: 2 web processes + 2 workers on PostgreSQL, restarted under load ==")
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        print(f"  {POSTGRES_URL_VARIABLE} is unset: the peak runs on PostgreSQL only; skipped")
        return [row("peak", "skipped", f"{POSTGRES_URL_VARIABLE} unset", "")]
    print(
        f"  {SECONDS:.0f} s: Shopify {SHOPIFY_PER_SECOND:g}/s, Taobao {TAOBAO_PER_SECOND:g}/s, "
        f"3 Kuaidi100 pushes for each of {PARCELS} parcels, {CUSTOMERS} customers opening "
        f"tracking pages; SIGTERM at {SECONDS / 3:.0f} s, SIGKILL once those are back (at "
        f"{2 * SECONDS / 3:.0f} s at the earliest); {os.cpu_count()} CPUs"
    )
    return measure(url)


if __name__ == "__main__":
    print("\n".join(run()))
