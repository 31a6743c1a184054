"""Kuaidi100 push callbacks: acks/s and latency on one uvicorn worker under wrk, then the drain.

A push is acknowledged once it is verified and stored as a job row; the worker merges it
into the timeline later (backend/logistics/tracking_jobs.py). So two figures matter and
are measured apart: how fast one web worker acknowledges pushes (wrk, POST, form-encoded
`param=...&sign=...`, rotating through a few hundred distinct, correctly signed bodies
that carry each waybill's full history, newest first, as Kuaidi100 sends it), and how fast
one worker (`backend.jobs.worker.Worker` with the portal's handlers, in this process) merges that
backlog. Each waybill is pushed at two points of its journey (5 and 7 events), in transit,
so no customer notification is due; most pushes repeat one already merged, as a carrier's
retries and full-history resends do, and must store nothing new.

The drain stops after PORTAL_BENCH_DRAIN_SECONDS (30) even with work left, and says so.
PORTAL_* variables in the environment reach the server, e.g. PORTAL_THREADS=1.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import ColumnElement, func, select

from backend.clock import utcnow
from backend.db import Base, Database
from backend.jobs.models import Job, JobStatus
from backend.jobs.worker import Worker
from backend.logistics import tracking_jobs
from backend.logistics.carriers import kuaidi100
from backend.logistics.models import TrackingEvent
from backend.orders.lifecycle import OrderAction
from backend.orders.models import PaymentMethod, SalesChannel
from backend.orders.service import NewAddress, NewLine, NewOrder, apply_action
from bench import (
    BENCH_ACTOR,
    BENCH_SECRET,
    Backend,
    list_backends,
    row,
    scratch_directory,
    seed_demo,
)
from bench.tracking_page import _free_port, _wait_until_up, server_flavour
from bench.wrk import WrkResult, run_script
from emulators.kuaidi100 import Kuaidi100Emulator, Subscription
from portal.background import build_handlers
from portal.integrations import build_integrations
from portal.settings import load_settings
from tests.factories import create_shipment, place_order

CARRIER = "zhongtong"
# As the portal subscribes: every trajectory item carries its own statusCode.
RESULTV2 = int(kuaidi100.RESULTV2)
WAYBILLS = int(os.environ.get("PORTAL_BENCH_PUSH_WAYBILLS", "300"))
# Each waybill pushed after its 5th and its 7th event: 6 events per push on average.
SNAPSHOTS = (5, 7)
SECONDS = int(os.environ.get("PORTAL_BENCH_PUSH_SECONDS", "8"))
WARMUP_SECONDS = 2
CONNECTIONS = int(os.environ.get("PORTAL_BENCH_CONNECTIONS", "16"))
# The drain stops here even if work is left, to keep a run near a minute per database.
DRAIN_BUDGET_SECONDS = float(os.environ.get("PORTAL_BENCH_DRAIN_SECONDS", "30"))
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# New each run, like BENCH_SECRET; the server gets it as PORTAL_KUAIDI100_SALT.
BENCH_SALT = secrets.token_hex(16)
ACK = re.compile(r"^acked (\d+) refused (\d+)$", re.MULTILINE)

LUA_TEMPLATE = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
bodies = {
%(bodies)s
}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) acked, refused, index = 0, 0, 0 end
function request()
  index = index %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[index])
end
function response(status, headers, body)
  local ok = status == 200 and string.find(body, '"result":true', 1, true)
  if ok then acked = acked + 1 else refused = refused + 1 end
end
function done(summary, latency, requests)
  local a, r = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("acked"); r = r + t:get("refused") end
  io.write(string.format("acked %%d refused %%d\\n", a, r))
end
"""


@dataclass(frozen=True)
class Push:
    tracking_no: str
    param: str
    body: str  # form-encoded, exactly what is POSTed
    events: int


@dataclass(frozen=True)
class Load:
    wrk: WrkResult
    p50_ms: float
    acked: int
    refused: int


@dataclass(frozen=True)
class Phase:
    merged: int
    seconds: float
    new_events: int = 0


@dataclass(frozen=True)
class Drain:
    first: Phase
    rest: Phase
    expected_events: int
    left: int
    failed: int

    @property
    def whole(self) -> Phase:
        first, rest = self.first, self.rest
        return Phase(*(a + b for a, b in zip(astuple(first), astuple(rest), strict=True)))


def seed_waybills(database: Database, count: int) -> list[str]:
    """Packed orders handed to 中通 two days ago (old news: no SHIPPED text is queued)."""
    shipped_at = utcnow() - timedelta(days=2, hours=1)
    numbers = []
    for index in range(count):
        phone = f"139{index:08d}"
        order_id = place_order(
            database,
            NewOrder(
                channel=SalesChannel.TAOBAO,
                channel_order_no=f"PUSH{index:05d}",
                customer_name="王芳",
                customer_phone=phone,
                address=NewAddress("王芳", phone, "浙江省", "杭州市", "西湖区", "文三路100号"),
                lines=[NewLine("TEA-LJ-250", "明前西湖龙井 250g 礼盒装", 1, 26_800)],
                payment_method=PaymentMethod.WECHAT_PAY,
                placed_at=shipped_at - timedelta(hours=2),
            ),
            BENCH_ACTOR,
        )
        for action in (OrderAction.PAY, OrderAction.START_PICKING, OrderAction.PACK):
            apply_action(database, order_id, action, BENCH_ACTOR, at=shipped_at)
        number = f"75{880000000000 + index * 7919}"
        create_shipment(database, order_id, CARRIER, number, BENCH_ACTOR, at=shipped_at)
        numbers.append(number)
    return numbers


def build_pushes(numbers: list[str], callback_url: str) -> list[Push]:
    """The emulator's own pushes (its build_push); a waybill's two come far apart in turn."""
    pushes = []
    with httpx.Client() as unused:
        emulator = Kuaidi100Emulator(http=unused)
        for revealed in SNAPSHOTS:
            for number in numbers:
                waybill = emulator.add_waybill(CARRIER, number, steps_done=revealed)
                waybill.subscription = Subscription(callback_url, BENCH_SALT, RESULTV2)
                _url, param, sign = emulator.build_push(waybill)
                body = urlencode({"param": param, "sign": sign})
                pushes.append(Push(number, param, body, revealed))
    return pushes


def distinct_events(pushes: list[Push]) -> int:
    """Snapshots of one waybill nest (the 5 are the 7's oldest), so the longest counts."""
    longest: dict[str, int] = {}
    for push in pushes:
        longest[push.tracking_no] = max(longest.get(push.tracking_no, 0), push.events)
    return sum(longest.values())


def write_lua(pushes: list[Push], directory: Path) -> Path:
    # urlencode leaves only [A-Za-z0-9_.~%+=&-]: safe inside a double-quoted Lua string.
    bodies = ",\n".join(f'"{push.body}"' for push in pushes)
    path = directory / "pushes.lua"
    path.write_text(LUA_TEMPLATE % {"bodies": bodies})
    return path


def server_environment(database_url: str, base: str, var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_SECRET_KEYS": BENCH_SECRET,
        "PORTAL_BASE_URL": base,
        "PORTAL_EMBEDDED_WORKER": "0",
        "PORTAL_KUAIDI100_SALT": BENCH_SALT,
        "PORTAL_KUAIDI100_KEY": "",
        "PORTAL_VAR_DIR": str(var_dir),
    }


@contextmanager
def serve(environment: dict[str, str], port: int) -> Iterator[int]:
    """One uvicorn worker serving the app on `port`; yields its pid, then stops it."""
    command = [sys.executable, "-m", "uvicorn", "--factory", "portal.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), *server_flavour()]
    command += ["--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(command, env=environment, cwd=PROJECT_ROOT)
    try:
        _wait_until_up(process, f"http://127.0.0.1:{port}")
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_sample(url: str, pushes: list[Push]) -> int:
    """A few pushes by hand: acknowledged as Kuaidi100 expects; a bad sign is refused."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with httpx.Client(timeout=10, headers=headers) as client:
        sample = pushes[:: max(len(pushes) // 5, 1)][:5]
        for push in sample:
            answer = client.post(url, content=push.body)
            if answer.status_code != 200 or answer.json().get("result") is not True:
                raise RuntimeError(f"push answered {answer.status_code}: {answer.text[:200]}")
        forged = pushes[0].body.rsplit("&sign=", 1)[0] + "&sign=" + "0" * 32
        refused = client.post(url, content=forged)
        if refused.status_code != 403 or refused.json().get("result") is not False:
            raise RuntimeError(f"a forged sign answered {refused.status_code}: {refused.text}")
    return len(sample)


def run_wrk(url: str, script: Path, seconds: int, server_pid: int) -> Load:
    run = run_script(url, script, seconds, server_pid, CONNECTIONS)
    acked, refused = run.tally(ACK)
    return Load(run.result, run.p50_ms, acked, refused)


def count(database: Database, table: type[Base], *conditions: ColumnElement[bool]) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(table).where(*conditions)) or 0


@contextmanager
def portal_worker(database: Database, environment: dict[str, str]) -> Iterator[Worker]:
    """The worker the portal runs (its handlers, no periodic jobs), with the server's settings."""
    settings = load_settings(environment)
    integrations = build_integrations(settings)
    try:
        yield Worker(database, build_handlers(settings, integrations), name="bench")
    finally:
        integrations.close()


def run_phase(worker: Worker, most: int, deadline: float) -> Phase:
    """Up to `most` jobs, until nothing is due or the deadline; the events it stored."""
    before, started, ran = count(worker.database, TrackingEvent), time.perf_counter(), 0
    while ran < most and time.perf_counter() < deadline and worker.run_one():
        ran += 1
    seconds = time.perf_counter() - started
    return Phase(ran, seconds, count(worker.database, TrackingEvent) - before)


def merged_events(database: Database, pushes: list[Push]) -> int:
    """Distinct events among the pushes the worker has merged (all of them when it finished)."""
    done = Job.status == JobStatus.DONE
    with database.read() as session:
        payloads = session.scalars(select(Job.payload).where(Job.kind == tracking_jobs.PUSH, done))
        raws = {str(payload["raw"]) for payload in payloads}
    return distinct_events([push for push in pushes if push.param in raws])


def drain(worker: Worker, pushes: list[Push]) -> Drain:
    """The first len(pushes) jobs (each distinct push about once), then the resends."""
    deadline = time.perf_counter() + DRAIN_BUDGET_SECONDS
    first = run_phase(worker, len(pushes), deadline)
    rest = run_phase(worker, sys.maxsize, deadline)
    push, database = Job.kind == tracking_jobs.PUSH, worker.database
    return Drain(
        first,
        rest,
        expected_events=merged_events(database, pushes),
        left=count(database, Job, push, Job.status == JobStatus.PENDING),
        failed=count(database, Job, push, Job.last_error.is_not(None)),
    )


def measure_backend(backend: Backend) -> list[str]:
    started = time.perf_counter()
    database = seed_demo(backend)
    try:
        numbers = seed_waybills(database, WAYBILLS)
        seed_seconds = time.perf_counter() - started
        with scratch_directory() as directory:
            port = _free_port()
            url = f"http://127.0.0.1:{port}/webhooks/kuaidi100"
            environment = server_environment(backend.url, f"http://127.0.0.1:{port}", directory)
            with portal_worker(database, environment) as worker:
                # The shipments' own jobs (subscribe: no Kuaidi100 key, so a no-op) go first.
                seed_jobs = worker.run_until_idle()
                pushes = build_pushes(numbers, url)
                script = write_lua(pushes, directory)
                print(
                    f"\n  {backend.label}: {len(numbers)} {CARRIER} waybills (+ demo orders) "
                    f"seeded in {seed_seconds:.1f} s, {seed_jobs} seed jobs run first; "
                    f"{len(pushes)} distinct pushes of {events_per_push(pushes):.1f} events "
                    f"({distinct_events(pushes):,} distinct), "
                    f"{sum(len(p.body) for p in pushes) // len(pushes):,} bytes a body"
                )
                with serve(environment, port) as pid:
                    sampled = check_sample(url, pushes)
                    warm = run_wrk(url, script, WARMUP_SECONDS, pid)
                    load = run_wrk(url, script, SECONDS, pid)
                stored = count(database, Job, Job.kind == tracking_jobs.PUSH)
                print_load(load, pushes, sampled + warm.acked + load.acked, stored)
                # The server has stopped: the worker has the machine, as after a burst.
                drained = drain(worker, pushes)
    finally:
        database.dispose()
    return report(backend, pushes, load, drained)


def events_per_push(pushes: list[Push]) -> float:
    return sum(push.events for push in pushes) / len(pushes)


def acks_per_second(load: Load) -> float:
    return load.wrk.requests_per_second * load.acked / max(load.wrk.requests, 1)


def print_load(load: Load, pushes: list[Push], acked: int, stored: int) -> None:
    wrk, rate = load.wrk, acks_per_second(load)
    cpu = f"{(wrk.server_cpu_seconds or 0) * 1000 / max(wrk.requests, 1):.2f} ms server CPU/push"
    print(f"    acks   {rate:7,.0f} pushes/s acknowledged, p50 {load.p50_ms:.1f} ms, p99 ", end="")
    print(f"{wrk.p99_ms:.1f} ms, {cpu}; {rate * events_per_push(pushes):,.0f} events/s carried")
    print(
        f"    {'':6} {load.acked:,} of {wrk.requests:,} answered 200 + result:true; "
        f"{wrk.bad_responses} non-2xx/3xx, {wrk.socket_errors} socket errors"
    )
    # More jobs than counted acks: wrk stops with pushes in flight, which are still stored.
    print(f"    {'':6} {stored:,} push jobs stored for {acked:,} acks (sample, warm-up, load)")


def describe_phase(phase: Phase) -> str:
    seconds = max(phase.seconds, 1e-9)
    return (
        f"{phase.merged / seconds:7,.0f} pushes merged/s, {phase.new_events / seconds:5,.0f} "
        f"new events stored/s ({phase.merged:,} pushes, {phase.new_events:,} new events "
        f"in {phase.seconds:.1f} s)"
    )


def report(backend: Backend, pushes: list[Push], load: Load, drained: Drain) -> list[str]:
    whole = drained.whole
    print(f"    drain  {describe_phase(whole)}")
    print(f"    {'':6} first pushes: {describe_phase(drained.first)}")
    print(f"    {'':6} resends:      {describe_phase(drained.rest)}")
    same = whole.new_events == drained.expected_events
    print(
        f"    {'':6} events stored {whole.new_events:,} vs distinct events in the merged "
        f"pushes {drained.expected_events:,}: "
        + ("duplicates not stored twice" if same else "!! MISMATCH")
    )
    context = f"{whole.merged:,} pushes in {whole.seconds:.1f} s; stored "
    context += "== distinct sent" if same else "!= distinct sent (!!)"
    if drained.left or drained.failed:
        print(
            f"    {'':6} !! {drained.left:,} pushes left at the budget, {drained.failed:,} failed"
        )
        context += f"; {drained.left:,} left at the {DRAIN_BUDGET_SECONDS:.0f} s budget"
    rate, wrk, seconds = acks_per_second(load), load.wrk, max(whole.seconds, 1e-9)
    acks = f"{rate:,.0f} pushes/s, p50 {load.p50_ms:.1f} ms, p99 {wrk.p99_ms:.1f} ms"
    carried = f"{rate * events_per_push(pushes):,.0f} events/s carried; "
    carried += f"{load.acked:,} of {wrk.requests:,} answered result:true"
    merged = f"{whole.merged / seconds:,.0f} pushes merged/s, "
    merged += f"{whole.new_events / seconds:,.0f} new events/s"
    return [
        row("push callbacks", f"{backend.label}, acks (wrk -c{CONNECTIONS})", acks, carried),
        row("push callbacks", f"{backend.label}, worker drain", merged, context),
    ]


def run() -> list[str]:
    print("== Kuaidi100 push callbacks: one uvicorn worker acks under wrk, one worker drains ==")
    if shutil.which("wrk") is None:
        print("  wrk is not installed (make bench-deps); skipped")
        return [row("push callbacks", "skipped", "wrk not installed", "")]
    print(
        f"  uvicorn {' '.join(server_flavour())}, embedded worker off, no access log; "
        f"wrk -t1 -c{CONNECTIONS} --latency -s pushes.lua for {SECONDS}s after a "
        f"{WARMUP_SECONDS}s warm-up; drain: Worker.run_one() until idle "
        f"(at most {DRAIN_BUDGET_SECONDS:.0f} s); {os.cpu_count()} CPUs"
    )
    summary: list[str] = []
    with scratch_directory() as directory:
        for backend in list_backends(directory):
            summary += measure_backend(backend)
    return summary


if __name__ == "__main__":
    print("\n".join(run()))
