"""Shopify order webhooks: deliveries acknowledged/s on one uvicorn worker, then the drain.

A delivery (POST /webhooks/shopify, the order JSON signed with X-Shopify-Hmac-Sha256) is
acknowledged (200 {"ok": true, "accepted": true}) once its signature and shape are checked
and it is stored as an `intake.ingest` job row, raw body included
(backend/orders/channel_webhooks.py); one worker ingests it later: the order, its address,
lines, stock reservation, audit events and the raw payload in channel_events
(backend/orders/intake.py). So two figures matter and are measured apart: how fast one web
worker acknowledges deliveries (wrk), and how fast one worker (`backend.jobs.worker.Worker` with
the portal's handlers, in this process, the server stopped) turns that backlog into orders.

The bodies are built from the recorded orders/create payload
(tests/backend/orders/channels/payloads/shopify/normal.json), each a different order: its
own `id`, buyer phone, line SKU (one of a handful, stocked without limit), `updated_at` and
X-Shopify-Event-Id. wrk rotates through them from where the previous run stopped, so every
request of the warm-up and the load is a new order; if the rotation wraps, it says so.

The answer names no order, so the database is read back by delivery: every stored job must
hold the exact body sent for its event id, one job per delivery, as many jobs as acks (plus
the requests wrk left in flight); after the drain each ingested job must have become exactly
one order and one 'created' channel_event with that exact body. Then a tenth of the stored
deliveries are sent again with their own event ids (as Shopify retries do), over and over
for a short run, and drained: each must be acknowledged, end as duplicate_delivery and
create no order, reservation or audit event; its raw body is still kept (channel_events,
outcome duplicate_delivery), by design.

A drain stops after PORTAL_BENCH_INTAKE_DRAIN_SECONDS (60) even with work left, and says so;
what the first one left is then ingested (timed apart, same budget) before the checks.
PORTAL_* variables in the environment reach the server, e.g. PORTAL_THREADS=1.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import SHANGHAI, utcnow
from backend.db import Database
from backend.jobs.models import Job, JobStatus
from backend.jobs.worker import BATCH_SIZE, Worker
from backend.orders.channel_webhooks import INGEST
from backend.orders.channels.signatures import build_shopify_hmac
from backend.orders.inventory import save_sku
from backend.orders.models import ChannelEvent, IntakeOutcome, Order, Reservation, SalesChannel
from bench import Backend, list_backends, row, scratch_directory, seed_demo
from bench.intake_drains import DrainRun, cores, describe, drain_with, store_backlog
from bench.push_callbacks import PROJECT_ROOT, count, portal_worker, serve, server_environment
from bench.tracking_page import _free_port, server_flavour
from bench.tracking_page import run_wrk as run_plain_wrk
from bench.wrk import WrkResult, lua_string, process_cpu_seconds, run_script

RECORDED = PROJECT_ROOT / "tests/backend/orders/channels/payloads/shopify/normal.json"
# Enough for 10 s at 1.5 times the aim (1,000/s) without the rotation wrapping.
DELIVERIES = int(os.environ.get("PORTAL_BENCH_INTAKE_DELIVERIES", "15000"))
SECONDS = int(os.environ.get("PORTAL_BENCH_INTAKE_SECONDS", "8"))
WARMUP_SECONDS = 2
REPLAY_SECONDS = 2
REPLAY_EVERY = 10  # a tenth of the stored deliveries are sent again
CONNECTIONS = int(os.environ.get("PORTAL_BENCH_CONNECTIONS", "16"))
# Each drain stops here even if work is left, to keep a run near two minutes per database.
DRAIN_BUDGET_SECONDS = float(os.environ.get("PORTAL_BENCH_INTAKE_DRAIN_SECONDS", "60"))
SAMPLE = 5
PING_SECONDS = 3
# Deliveries per drain case (the baseline gets half, four workers four times as many).
BACKLOG = int(os.environ.get("PORTAL_BENCH_INTAKE_BACKLOG", "2000"))
AIM_SQLITE_ORDERS, AIM_POSTGRES_ORDERS = 500, 1_000  # one worker; four workers
AIM_ACKS_PER_SECOND, AIM_P99_MS = 1_000, 200.0
# New each run, like BENCH_SECRET; the server gets it as PORTAL_SHOPIFY_WEBHOOK_SECRET.
SHOPIFY_SECRET = secrets.token_urlsafe(32)
SHOPIFY = str(SalesChannel.SHOPIFY)
# (sku, title, price in fen): what the bodies sell, one line each, stock without limit.
PRODUCTS = (
    ("TS-01", "T恤", 19_900),
    ("TS-02", "连帽卫衣", 29_900),
    ("MUG-01", "骨瓷马克杯", 5_900),
    ("TEA-LJ-250", "明前西湖龙井 250g", 26_800),
    ("BAG-01", "帆布托特包", 8_900),
)
STOCK = 1_000_000
ANSWERS = re.compile(r"^acked (\d+) other (\d+) sent (\d+)$", re.MULTILINE)
CREATED = str(IntakeOutcome.CREATED)
DUPLICATE = str(IntakeOutcome.DUPLICATE_DELIVERY)
IGNORED = str(IntakeOutcome.IGNORED_OLDER)

LUA_TEMPLATE = """\
deliveries = {
%(deliveries)s
}
local threads = {}
function setup(thread) table.insert(threads, thread) end
-- The rotation starts where the previous run stopped (wrk ... -- <deliveries already sent>).
function init(args)
  acked, other, sent = 0, 0, 0
  index = tonumber(args[1] or "0")
end
function request()
  index = index %% #deliveries + 1
  sent = sent + 1
  local d = deliveries[index]
  local headers = {["Content-Type"] = "application/json",
                   ["X-Shopify-Hmac-Sha256"] = d[2], ["X-Shopify-Event-Id"] = d[3]}
  return wrk.format("POST", nil, headers, d[1])
end
function response(status, headers, body)
  if status == 200 and string.find(body, '"accepted":true', 1, true) then
    acked = acked + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local a, o, s = 0, 0, 0
  for _, t in ipairs(threads) do
    a, o, s = a + t:get("acked"), o + t:get("other"), s + t:get("sent")
  end
  io.write(string.format("acked %%d other %%d sent %%d\\n", a, o, s))
end
"""


@dataclass(frozen=True)
class Delivery:
    event_id: str
    body: bytes
    signature: str


@dataclass(frozen=True)
class Load:
    wrk: WrkResult
    p50_ms: float
    acked: int
    other: int
    sent: int
    postgres_cpu_seconds: float | None = None


@dataclass(frozen=True)
class Queue:
    """The intake.ingest job rows, read back: what the acknowledgements stored."""

    jobs: int
    exact: int  # jobs whose raw body is byte for byte the one sent for their event id
    twice: int  # jobs beyond the first for one event id
    done: int
    pending: int
    failed: int  # jobs holding an error (retried later or dead)
    delivered: frozenset[str]  # event ids of the done jobs


@dataclass(frozen=True)
class Drain:
    ran: int  # jobs run (all kinds)
    ingested: int  # intake.ingest jobs done
    seconds: float
    cpu_seconds: float  # this process: the worker and SQLite's work in it
    outcomes: Counter[str]  # new channel_events by outcome
    left: int
    failed: int


@dataclass(frozen=True)
class Stored:
    """What the database holds for the Shopify deliveries, read back after a drain."""

    orders: int
    distinct_orders: int  # distinct Shopify order numbers among the orders
    created_events: int
    exact_bodies: int  # created events whose body is byte for byte the one sent for its id
    event_orders: int  # distinct orders named by the created events
    ingested_without_event: int  # done jobs whose delivery has no created event
    events_without_job: int  # created events for a delivery no job holds
    duplicate_events: int
    ignored_events: int
    reservations: int
    reserved_units: int
    audit_events: int
    held: int
    delivered: frozenset[str]  # event ids of the created events

    @property
    def footprint(self) -> tuple[int, ...]:
        """What a delivery already ingested must not change when it comes again."""
        return (
            self.orders,
            self.created_events,
            self.ignored_events,
            self.reservations,
            self.reserved_units,
            self.audit_events,
        )


@dataclass(frozen=True)
class Replay:
    load: Load
    distinct: int
    jobs: int  # jobs the replays stored
    drain: Drain
    before: Stored
    after: Stored

    @property
    def clean(self) -> bool:
        """All acknowledged and stored; all ingested as duplicate_delivery; nothing created."""
        before, after, load, drain = self.before, self.after, self.load, self.drain
        kept = after.duplicate_events - before.duplicate_events
        return (
            before.footprint == after.footprint
            and load.acked == load.wrk.requests
            and load.acked <= self.jobs <= load.sent
            and drain.left == drain.failed == 0
            and drain.ingested == drain.ran == self.jobs == kept == drain.outcomes[DUPLICATE]
            and sum(drain.outcomes.values()) == kept
        )


def seed_skus(database: Database) -> None:
    seeder = Actor(ActorKind.SYSTEM, "bench", channel="bench")
    for code, title, fen in PRODUCTS:
        # Cost at 40 % of the price: no order is held as below cost.
        save_sku(database, code, title, STOCK, fen * 2 // 5, seeder)


def build_deliveries(count: int, first: int = 0) -> list[Delivery]:
    """Distinct signed orders/create deliveries, placed over the last `count` seconds; `first`
    numbers them after those of an earlier call, so that every order is new."""
    recorded: dict[str, Any] = json.loads(RECORDED.read_bytes())
    first_id, first_line = int(recorded["id"]), int(recorded["line_items"][0]["id"])
    start = utcnow().astimezone(SHANGHAI) - timedelta(seconds=count + 60)
    deliveries = []
    for index in range(first, first + count):
        sku, title, fen = PRODUCTS[index % len(PRODUCTS)]
        price = f"{fen // 100}.{fen % 100:02d}"  # Shopify's money: a decimal string in yuan
        line = {"id": first_line + index, "sku": sku, "title": title, "name": title, "price": price}
        created_at = start + timedelta(seconds=index - first)
        phone = f"+86139{index:08d}"
        payload = {
            **recorded,
            "id": first_id + index,
            "name": f"#{10_000 + index}",
            "order_number": 10_000 + index,
            "created_at": created_at.isoformat(timespec="seconds"),
            "processed_at": created_at.isoformat(timespec="seconds"),
            "updated_at": (created_at + timedelta(seconds=5 + index % 7)).isoformat(),
            "total_price": price,
            "subtotal_price": price,
            "customer": {**recorded["customer"], "phone": phone},
            "shipping_address": {**recorded["shipping_address"], "phone": phone},
            "line_items": [{**recorded["line_items"][0], **line}],
        }
        # Shopify sends compact UTF-8 JSON; the signature covers exactly these bytes.
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        signature = build_shopify_hmac(body, SHOPIFY_SECRET)
        deliveries.append(Delivery(str(uuid.uuid4()), body, signature))
    return deliveries


def write_lua(deliveries: list[Delivery], path: Path) -> Path:
    entries = ",\n".join(
        f"{{{lua_string(d.body)}, {lua_string(d.signature.encode())}, "
        f"{lua_string(d.event_id.encode())}}}"
        for d in deliveries
    )
    path.write_text(LUA_TEMPLATE % {"deliveries": entries})
    return path


def post(client: httpx.Client, url: str, delivery: Delivery, signature: str = "") -> httpx.Response:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": signature or delivery.signature,
        "X-Shopify-Event-Id": delivery.event_id,
    }
    return client.post(url, content=delivery.body, headers=headers)


def ingest_jobs(database: Database) -> int:
    return count(database, Job, Job.kind == INGEST)


def check_sample(url: str, deliveries: list[Delivery], database: Database) -> int:
    """The first few by hand: each accepted and stored; a forgery and garbage refused, unstored."""
    stored = ingest_jobs(database)
    with httpx.Client(timeout=10) as client:
        for delivery in deliveries[:SAMPLE]:
            answer = post(client, url, delivery)
            if answer.status_code != 200 or answer.json().get("accepted") is not True:
                raise RuntimeError(f"a delivery answered {answer.status_code}: {answer.text}")
        if ingest_jobs(database) != stored + SAMPLE:
            raise RuntimeError(f"{SAMPLE} accepted deliveries stored {ingest_jobs(database)} jobs")
        forged = post(client, url, deliveries[SAMPLE], signature=build_shopify_hmac(b"", "x"))
        if forged.status_code != 401:
            raise RuntimeError(f"a forged signature answered {forged.status_code}: {forged.text}")
        garbage = b'{"id":"not-a-number"}'
        malformed = Delivery(
            str(uuid.uuid4()), garbage, build_shopify_hmac(garbage, SHOPIFY_SECRET)
        )
        refused = post(client, url, malformed)
        if refused.status_code != 422:
            raise RuntimeError(f"a signed non-order answered {refused.status_code}: {refused.text}")
    if ingest_jobs(database) != stored + SAMPLE:
        raise RuntimeError("a forged or malformed delivery was stored as a job")
    return SAMPLE


def postgres_cpu_seconds() -> float | None:
    """User + system CPU of the local PostgreSQL processes (they share these cores)."""
    total, found = 0.0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm = (stat.parent / "comm").read_text().strip()
            if comm.startswith("postgres"):
                total += process_cpu_seconds(int(stat.parent.name)) or 0.0
                found = True
        except (OSError, ValueError):
            continue
    return total if found else None


def run_wrk(
    url: str, script: Path, seconds: int, server_pid: int, postgres: bool, start: int = 0
) -> Load:
    pg_cpu = postgres_cpu_seconds if postgres else lambda: None
    pg_before = pg_cpu()
    run = run_script(url, script, seconds, server_pid, CONNECTIONS, start, grace_seconds=60)
    pg_after = pg_cpu()
    acked, other, sent = run.tally(ANSWERS)
    pg = pg_after - pg_before if pg_before is not None and pg_after is not None else None
    return Load(run.result, run.p50_ms, acked, other, sent, pg)


def wait_until_settled(database: Database) -> None:
    """wrk stops with requests in flight, which the server still finishes: wait for them."""
    deadline, last = time.monotonic() + 30, -1
    while time.monotonic() < deadline:
        now = ingest_jobs(database)
        if now == last:
            return
        last = now
        time.sleep(0.5)
    raise RuntimeError("the server was still storing deliveries 30 s after wrk stopped")


def event_id(delivery_id: object) -> str:
    return str(delivery_id or "").removeprefix("shopify:")


def read_queue(database: Database, sent: dict[str, bytes]) -> Queue:
    with database.read() as session:
        jobs = session.execute(
            select(Job.payload, Job.status, Job.last_error).where(Job.kind == INGEST)
        ).all()
    ids = Counter(event_id(payload.get("delivery_id")) for payload, _, _ in jobs)
    return Queue(
        jobs=len(jobs),
        exact=sum(
            sent.get(event_id(payload.get("delivery_id"))) == str(payload.get("raw")).encode()
            for payload, _, _ in jobs
        ),
        twice=sum(times - 1 for times in ids.values()),
        done=sum(status == JobStatus.DONE for _, status, _ in jobs),
        pending=sum(status == JobStatus.PENDING for _, status, _ in jobs),
        failed=sum(error is not None for _, _, error in jobs),
        delivered=frozenset(
            event_id(payload.get("delivery_id"))
            for payload, status, _ in jobs
            if status == JobStatus.DONE
        ),
    )


def outcomes(database: Database) -> Counter[str]:
    with database.read() as session:
        rows = session.execute(
            select(ChannelEvent.outcome, func.count())
            .where(ChannelEvent.channel == SHOPIFY)
            .group_by(ChannelEvent.outcome)
        ).all()
    return Counter({outcome: number for outcome, number in rows})


def drain(worker: Worker) -> Drain:
    """Worker.run_batch() until nothing is due or the budget is spent; timed, in this process."""
    database, ingest = worker.database, Job.kind == INGEST
    done_before = count(database, Job, ingest, Job.status == JobStatus.DONE)
    outcomes_before = outcomes(database)
    deadline = time.perf_counter() + DRAIN_BUDGET_SECONDS
    started, cpu, ran = time.perf_counter(), time.process_time(), 0
    while time.perf_counter() < deadline and (batch := worker.run_batch()):
        ran += batch
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    new = outcomes(database)
    new.subtract(outcomes_before)
    return Drain(
        ran=ran,
        ingested=count(database, Job, ingest, Job.status == JobStatus.DONE) - done_before,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        outcomes=+new,
        left=count(database, Job, ingest, Job.status == JobStatus.PENDING),
        failed=count(database, Job, ingest, Job.last_error.is_not(None)),
    )


def read_back(database: Database, sent: dict[str, bytes], queue: Queue) -> Stored:
    shopify = Order.channel == SHOPIFY
    with database.read() as session:
        events = session.execute(
            select(ChannelEvent.delivery_id, ChannelEvent.body, ChannelEvent.order_id).where(
                ChannelEvent.channel == SHOPIFY, ChannelEvent.outcome == CREATED
            )
        ).all()
        # The bench's own orders only: the demo's orders hold reservations of these SKUs too.
        bench_orders = select(Order.id).where(shopify).scalar_subquery()
        mine = Reservation.order_id.in_(bench_orders)
        units = session.scalar(select(func.sum(Reservation.quantity)).where(mine))
        reservations = session.scalar(select(func.count()).select_from(Reservation).where(mine))
        numbers = session.scalar(
            select(func.count(Order.channel_order_no.distinct())).where(shopify)
        )
    bodies = {event_id(delivery): body for delivery, body, _ in events}
    counted = outcomes(database)
    return Stored(
        orders=count(database, Order, shopify),
        distinct_orders=numbers or 0,
        created_events=len(events),
        exact_bodies=sum(sent.get(event) == body.encode() for event, body in bodies.items()),
        event_orders=len({order_id for _, _, order_id in events if order_id is not None}),
        ingested_without_event=len(queue.delivered - bodies.keys()),
        events_without_job=len(bodies.keys() - queue.delivered),
        duplicate_events=counted[DUPLICATE],
        ignored_events=counted[IGNORED],
        reservations=reservations or 0,
        reserved_units=units or 0,
        audit_events=count(database, AuditEvent),
        held=count(database, Order, shopify, Order.hold_reason.is_not(None)),
        delivered=frozenset(bodies),
    )


def measure_backend(backend: Backend) -> list[str]:
    started = time.perf_counter()
    database = seed_demo(backend)
    try:
        seed_skus(database)
        deliveries = build_deliveries(DELIVERIES)
        sent = {delivery.event_id: delivery.body for delivery in deliveries}
        with scratch_directory() as directory:
            port = _free_port()
            url = f"http://127.0.0.1:{port}/webhooks/shopify"
            environment = server_environment(backend.url, f"http://127.0.0.1:{port}", directory)
            environment["PORTAL_SHOPIFY_WEBHOOK_SECRET"] = SHOPIFY_SECRET
            script = write_lua(deliveries, directory / "deliveries.lua")
            postgres = not backend.is_sqlite
            with portal_worker(database, environment) as worker:
                # The demo orders' own jobs (notifications) go first: the drain is intake only.
                seed_jobs = worker.run_until_idle()
                print(
                    f"\n  {backend.label}: demo orders + {len(PRODUCTS)} SKUs seeded "
                    f"({seed_jobs} seed jobs run first) and {len(deliveries):,} distinct "
                    f"signed deliveries built in {time.perf_counter() - started:.1f} s, "
                    f"{sum(len(d.body) for d in deliveries) // len(deliveries):,} bytes a body"
                )
                with serve(environment, port) as pid:
                    sampled = check_sample(url, deliveries, database)
                    warm = run_wrk(url, script, WARMUP_SECONDS, pid, postgres, start=SAMPLE)
                    load = run_wrk(url, script, SECONDS, pid, postgres, start=SAMPLE + warm.sent)
                    wait_until_settled(database)
                    # The same server's /ping, right after: what the acks are a share of.
                    ping = run_plain_wrk(f"http://127.0.0.1:{port}/ping", {}, PING_SECONDS, pid)
                acked = sampled + warm.acked + load.acked
                in_flight = warm.sent - warm.wrk.requests + load.sent - load.wrk.requests
                queued = read_queue(database, sent)
                wrapped = SAMPLE + warm.sent + load.sent > DELIVERIES
                print_load(load, queued, acked, in_flight, wrapped)
                print(f"    {'':6} {share_of_ping(load, ping)}")
                # The server has stopped: the worker has the machine, as after a burst.
                drained = drain(worker)
                # What the budget left is ingested too (timed apart), so that the checks
                # cover every ack and the replays start from a settled database.
                rest = drain(worker) if drained.left else None
                queue = read_queue(database, sent)
                before = read_back(database, sent, queue)
                verdict = verdict_of(queued, queue, before, acked, in_flight, wrapped)
                print_drain(drained, rest, queue, before, verdict)

                replays = [d for d in deliveries if d.event_id in before.delivered]
                replays = replays[::REPLAY_EVERY]
                replay_script = write_lua(replays, directory / "replays.lua")
                with serve(environment, port) as pid:
                    replay = run_wrk(url, replay_script, REPLAY_SECONDS, pid, postgres)
                    wait_until_settled(database)
                replay_jobs = ingest_jobs(database) - queue.jobs
                replay_drain = drain(worker)
                after = read_back(database, sent, read_queue(database, sent))
                drains = measure_drains(backend, database, environment)
    finally:
        database.dispose()
    outcome = Replay(replay, len(replays), replay_jobs, replay_drain, before, after)
    print_replay(outcome)
    return report(backend, load, ping, drained, rest, before, verdict, outcome) + drain_rows(
        backend, drains
    )


def measure_drains(
    backend: Backend, database: Database, environment: dict[str, str]
) -> list[DrainRun]:
    """A fresh backlog per case, drained by worker processes: the baseline first."""
    cases = [("baseline", 1, 1), ("batched", 1, BATCH_SIZE)]
    if not backend.is_sqlite:  # one writer at a time on SQLite: more workers only wait
        cases.append(("batched", 4, BATCH_SIZE))
    runs: list[DrainRun] = []
    first = DELIVERIES
    for label, workers, batch in cases:
        size = BACKLOG // 2 if batch == 1 else BACKLOG * workers
        store_backlog(database, build_deliveries(size, first=first), SHOPIFY_SECRET)
        first += size
        run = drain_with(database, environment, label, workers, batch)
        runs.append(run)
        print(
            f"    {label + f' ×{workers}':10} {workers} worker process(es), batches of {batch}: "
            + describe(run, runs[0])
        )
    print_per_core(backend, runs[-1])
    return runs


def print_per_core(backend: Backend, run: DrainRun) -> None:
    """What the figure implies off this shared machine: orders per CPU-second spent."""
    spent = run.cpu_seconds + (run.postgres_cpu_seconds or 0.0)
    per_cpu_second = run.orders / max(spent, 1e-9)
    aim = AIM_SQLITE_ORDERS if backend.is_sqlite else AIM_POSTGRES_ORDERS
    print(
        f"    {'':10} {per_cpu_second:,.0f} orders per CPU-second (workers"
        + ("" if backend.is_sqlite else " + PostgreSQL")
        + f"), {cores()} cores here, load average {os.getloadavg()[0]:.1f}: {aim:,}/s needs "
        f"about {aim / per_cpu_second:.1f} cores' worth of CPU"
        + (" on one worker (one core at most)" if backend.is_sqlite else "")
    )


def drain_rows(backend: Backend, runs: list[DrainRun]) -> list[str]:
    baseline, rows = runs[0], []
    for run in runs[1:]:
        aim = AIM_SQLITE_ORDERS if backend.is_sqlite else AIM_POSTGRES_ORDERS
        met = run.rate >= aim if (backend.is_sqlite or run.workers == 4) else None
        verdict = "" if met is None else f"; aim >= {aim:,}/s " + ("met" if met else "NOT met")
        rows.append(
            row(
                "channel intake",
                f"{backend.label}, {run.workers} worker process(es), batches of {run.batch}",
                f"{run.rate:,.0f} orders/s, {run.rate / max(baseline.rate, 1e-9):.2f}× baseline",
                f"baseline (batches of 1) {baseline.rate:,.0f}/s; "
                f"CPU/order {run.cpu_ms:.2f} ms ({run.cpu_ms / max(baseline.cpu_ms, 1e-9):.2f}×), "
                f"statements/order {run.statements_per_order:.1f} "
                f"({run.statements_per_order / max(baseline.statements_per_order, 1e-9):.2f}×)"
                + verdict,
            )
        )
    return rows


def acks_per_second(load: Load) -> float:
    return load.wrk.requests_per_second * load.acked / max(load.wrk.requests, 1)


def cpu_ms(load: Load, what: str = "ack") -> str:
    """Server CPU per request, with the local PostgreSQL's beside it when measured."""
    requests, wrk, pg = max(load.wrk.requests, 1), load.wrk, load.postgres_cpu_seconds
    cpu = f"{(wrk.server_cpu_seconds or 0) * 1000 / requests:.2f} ms server CPU/{what}"
    return cpu + (f" + {pg * 1000 / requests:.2f} ms PostgreSQL" if pg is not None else "")


def share_of_ping(load: Load, ping: WrkResult) -> str:
    """Acks/s as a share of the same server's /ping, by rate and by CPU per request."""
    text = f"{acks_per_second(load) / ping.requests_per_second:.1%} of /ping by req/s"
    ack_cpu, ping_cpu = load.wrk.server_cpu_seconds, ping.server_cpu_seconds
    if ack_cpu and ping_cpu and load.wrk.requests and ping.requests:
        per_ack, per_ping = ack_cpu / load.wrk.requests, ping_cpu / ping.requests
        text += f", {per_ping / per_ack:.1%} by CPU/req"
    return text + f" (/ping {ping.requests_per_second:,.0f} req/s, p99 {ping.p99_ms:.1f} ms)"


def aim_met(load: Load) -> bool:
    return acks_per_second(load) >= AIM_ACKS_PER_SECOND and load.wrk.p99_ms < AIM_P99_MS


def print_load(load: Load, queued: Queue, acked: int, in_flight: int, wrapped: bool) -> None:
    wrk, rate = load.wrk, acks_per_second(load)
    print(
        f"    acks   {rate:7,.0f} deliveries/s acknowledged, p50 {load.p50_ms:.1f} ms, p99 ", end=""
    )
    print(f"{wrk.p99_ms:.1f} ms, {cpu_ms(load)}")
    print(
        f"    {'':6} {load.acked:,} of {wrk.requests:,} answered 200 + accepted:true, "
        f"{load.other:,} other; {wrk.bad_responses} non-2xx/3xx, {wrk.socket_errors} socket "
        f"errors; aim >= {AIM_ACKS_PER_SECOND}/s with p99 < {AIM_P99_MS:.0f} ms "
        + ("met" if aim_met(load) else "NOT met")
    )
    print(
        f"    {'':6} {queued.jobs:,} ingest jobs stored ({queued.exact:,} with the exact body "
        f"sent, {queued.twice} for a delivery already stored) for {acked:,} acks (sample, "
        f"warm-up, load) + {in_flight} in flight"
        + ("; the rotation wrapped (!!)" if wrapped else "")
    )


def verdict_of(
    queued: Queue, queue: Queue, stored: Stored, acked: int, in_flight: int, wrapped: bool
) -> str:
    """Every ack stored once, exactly; every ingested job one order and one exact created event."""
    consistent = (
        acked <= queued.jobs <= acked + in_flight
        and queued.exact == queued.jobs
        and queued.twice == 0
        and queue.failed == 0
        and stored.orders == stored.distinct_orders == stored.event_orders
        and stored.orders == stored.created_events == stored.exact_bodies == queue.done
        and stored.ingested_without_event == stored.events_without_job == 0
        and stored.duplicate_events == stored.ignored_events == 0
        and stored.reservations == stored.reserved_units == stored.orders - stored.held
    )
    verdict = "consistent" if consistent else "INCONSISTENT (!!)"
    if queue.pending:
        verdict += f"; {queue.pending:,} not ingested yet"
    return verdict + ("; the rotation wrapped (!!)" if wrapped else "")


def describe_outcomes(outcomes: Counter[str]) -> str:
    return ", ".join(f"{number:,} {outcome}" for outcome, number in sorted(outcomes.items()))


def describe_drain(drained: Drain) -> str:
    seconds = max(drained.seconds, 1e-9)
    cpu = drained.cpu_seconds * 1000 / max(drained.ran, 1)
    return (
        f"{drained.outcomes[CREATED] / seconds:7,.0f} orders ingested/s by one worker "
        f"({drained.ingested:,} jobs in {drained.seconds:.1f} s, {cpu:.2f} ms worker CPU/job); "
        f"channel_events: {describe_outcomes(drained.outcomes) or 'none'}"
    )


def print_drain(
    drained: Drain, rest: Drain | None, queue: Queue, stored: Stored, verdict: str
) -> None:
    print(f"    drain  {describe_drain(drained)}")
    for phase in (drained, rest):
        if phase is None:
            continue
        if phase.ran != phase.ingested:
            print(f"    {'':6} !! {phase.ran - phase.ingested:,} other jobs run in the drain")
        if phase.left or phase.failed:
            print(
                f"    {'':6} {'!! ' * (phase is rest)}{phase.left:,} ingest jobs left at the "
                f"{DRAIN_BUDGET_SECONDS:.0f} s budget, {phase.failed:,} failed"
            )
        if phase is drained and rest is not None:
            print(f"    {'':6} then the rest: {describe_drain(rest).lstrip()}")
    print(
        f"    stored {stored.orders:,} Shopify orders ({stored.held:,} held, "
        f"{stored.distinct_orders:,} distinct order numbers), {stored.created_events:,} "
        f"channel_events 'created' ({stored.exact_bodies:,} with the exact body sent) for "
        f"{queue.done:,} ingested jobs"
    )
    print(
        f"    {'':6} {stored.ingested_without_event} ingested jobs without their event, "
        f"{stored.events_without_job} events without a job, {stored.duplicate_events} "
        f"duplicate_delivery, {stored.ignored_events} ignored_older; {stored.reservations:,} "
        f"reservations, {stored.reserved_units:,} units reserved: {verdict}"
    )


def print_replay(replay: Replay) -> None:
    load, wrk, drained = replay.load, replay.load.wrk, replay.drain
    before, after = replay.before, replay.after
    print(
        f"    replay {acks_per_second(load):7,.0f} replays/s acknowledged, p50 "
        f"{load.p50_ms:.1f} ms, p99 {wrk.p99_ms:.1f} ms, {cpu_ms(load, 'replay')}; "
        f"{replay.distinct:,} stored deliveries sent again, "
        f"{wrk.requests / max(replay.distinct, 1):.1f} times each"
    )
    print(
        f"    {'':6} {load.acked:,} of {wrk.requests:,} answered 200 + accepted:true, "
        f"{load.other} other; {replay.jobs:,} jobs stored, drained in {drained.seconds:.1f} s "
        f"({drained.ingested / max(drained.seconds, 1e-9):,.0f}/s, {drained.left} left, "
        f"{drained.failed} failed): {describe_outcomes(drained.outcomes) or 'no channel_events'}"
    )
    print(
        f"    {'':6} orders {before.orders:,} -> {after.orders:,}, created events "
        f"{before.created_events:,} -> {after.created_events:,}, reservations "
        f"{before.reservations:,} -> {after.reservations:,}, audit events "
        f"{before.audit_events:,} -> {after.audit_events:,}; "
        f"{after.duplicate_events - before.duplicate_events:,} raw bodies kept as "
        "duplicate_delivery: " + ("nothing created" if replay.clean else "!! SOMETHING CHANGED")
    )


def report(
    backend: Backend,
    load: Load,
    ping: WrkResult,
    drained: Drain,
    rest: Drain | None,
    stored: Stored,
    verdict: str,
    replay: Replay,
) -> list[str]:
    wrk, rate = load.wrk, acks_per_second(load)
    name = "channel intake"
    figure = f"{rate:,.0f} deliveries/s acked, p50 {load.p50_ms:.1f} ms, p99 {wrk.p99_ms:.1f} ms"
    context = f"{cpu_ms(load)}; {wrk.bad_responses} non-2xx; {load.acked:,} of "
    context += f"{wrk.requests:,} accepted; aim >= {AIM_ACKS_PER_SECOND}/s, p99 < "
    context += f"{AIM_P99_MS:.0f} ms " + ("met" if aim_met(load) else "NOT met")
    context += f"; {share_of_ping(load, ping)}"
    seconds = max(drained.seconds, 1e-9)
    ingested = f"{drained.outcomes[CREATED] / seconds:,.0f} orders ingested/s"
    drain_context = f"{drained.ingested:,} jobs in {drained.seconds:.1f} s; {stored.orders:,} "
    drain_context += f"orders, {stored.created_events:,} raw payloads stored: {verdict}"
    if drained.left or drained.failed:
        drain_context += f"; {drained.left:,} left at the {DRAIN_BUDGET_SECONDS:.0f} s budget"
        drain_context += f", {drained.failed:,} failed"
    if rest is not None:
        drain_context += f", ingested in {rest.seconds:.1f} s more"
        drain_context += f" ({rest.left:,} still left (!!))" if rest.left else ""
    replay_wrk = replay.load.wrk
    replayed = (
        f"{acks_per_second(replay.load):,.0f} replays/s acked, p99 {replay_wrk.p99_ms:.1f} ms"
    )
    replay_context = f"{replay.load.acked:,} of {replay_wrk.requests:,} accepted; "
    replay_context += f"{replay.drain.outcomes[DUPLICATE]:,} of {replay.jobs:,} jobs ingested as "
    replay_context += "duplicate_delivery; " + (
        "nothing created" if replay.clean else "CHANGED (!!)"
    )
    return [
        row(name, f"{backend.label}, acks (wrk -c{CONNECTIONS})", figure, context),
        row(name, f"{backend.label}, worker drain", ingested, drain_context),
        row(name, f"{backend.label}, replays (same event id)", replayed, replay_context),
    ]


def run() -> list[str]:
    print("== Shopify order webhooks: one uvicorn worker acks under wrk, one worker ingests ==")
    if shutil.which("wrk") is None:
        print("  wrk is not installed (make bench-deps); skipped")
        return [row("channel intake", "skipped", "wrk not installed", "")]
    print(
        f"  uvicorn {' '.join(server_flavour())}, embedded worker off, no access log; "
        f"{SAMPLE} deliveries checked by hand, then wrk -t1 -c{CONNECTIONS} --latency "
        f"-s deliveries.lua for {SECONDS}s after a {WARMUP_SECONDS}s warm-up (every request "
        f"a new order); drain: Worker.run_batch() until idle (at most "
        f"{DRAIN_BUDGET_SECONDS:.0f} s); then 1 in {REPLAY_EVERY} stored deliveries replayed "
        f"for {REPLAY_SECONDS}s and drained; {os.cpu_count()} CPUs"
    )
    summary: list[str] = []
    with scratch_directory() as directory:
        for backend in list_backends(directory):
            summary += measure_backend(backend)
    return summary


if __name__ == "__main__":
    print("\n".join(run()))
