"""Warehouse pack scans: scans/s and latency on one uvicorn worker under wrk, and scan_parcel alone.

A scan (POST /warehouse/scan, form field `code`, sent as the scan page's htmx sends it)
finds the order, locks its row, marks it packed and freezes its address in one
transaction (backend/logistics/warehouse.py); the answer then lists the recent scans.
The database holds a few thousand paid orders and one warehouse staff member; wrk sends
the cookies and header that member's browser sends after POST /admin/login (staff
session, CSRF cookie, X-CSRF-Token) and rotates through the orders' numbers, so each
request scans a different parcel until the rotation wraps. A parcel scanned again is
answered "already packed at ..." and must change nothing. Answers are counted by their
text, first scans apart from repeats. Before the load, one scanner alone (wrk -c1) gives
the latency a packer sees; the load then goes on from the next order, and its p50 is
mostly queueing behind the other connections. The warm-up rotates through orders of its own.
The load's orders are seeded until PORTAL_BENCH_SCAN_SEED_SECONDS (15) have passed.

scan_parcel is also timed in this process, without HTTP and with no server running, on
fresh orders and then on the same orders again: what one scan costs the server.

PORTAL_* variables in the environment reach the server, e.g. PORTAL_THREADS=1.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.db import Database
from backend.logistics.warehouse import scan_parcel
from backend.orders.lifecycle import OrderAction
from backend.orders.models import Order, PaymentMethod, SalesChannel
from backend.orders.service import NewAddress, NewLine, NewOrder, apply_action
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from bench import BENCH_ACTOR, Backend, list_backends, row, scratch_directory, seed_demo
from bench.push_callbacks import serve, server_environment
from bench.tracking_page import _free_port, server_flavour
from bench.wrk import WrkResult, lua_string, run_script
from portal.i18n import translations
from portal.security import CSRF_COOKIE, CSRF_HEADER
from portal.sessions import STAFF_COOKIE
from tests.factories import place_order

# Seeding costs ~5 ms an order on SQLite and ~7-9 ms on PostgreSQL here (two transactions
# through the order service), so the load's orders are seeded until the budget is spent.
SEED_BUDGET_SECONDS = float(os.environ.get("PORTAL_BENCH_SCAN_SEED_SECONDS", "15"))
# First scans for 10 s (one scanner, then the load) at up to 250 scans/s.
MAX_ORDERS = 2500
WARMUP_ORDERS = 50
TIMED_ORDERS = 500
# Scanned in-process before the timed ones: the first statements compile and cache.
TIMED_WARMUP = 20
SECONDS = int(os.environ.get("PORTAL_BENCH_SCAN_SECONDS", "8"))
WARMUP_SECONDS = 2
CONNECTIONS = int(os.environ.get("PORTAL_BENCH_CONNECTIONS", "16"))
# One scanner alone (wrk -c1) before the load: the latency a packer sees.
ONE_SCANNER_SECONDS = 2
# Seeded even past the budget: enough for the load to be mostly first scans.
LEAST_ORDERS = 500
STAFF_NAME = "bench-warehouse"
STAFF_PASSWORD = secrets.token_urlsafe(16)
# The answers' texts, in the locale wrk's cookie pins: zh_CN "已打包，地址已锁定" and
# "已于 %(time)s 打包" (the part before the time is enough to tell them apart).
LOCALE = "zh_CN"
FIRST_SCAN = translations(LOCALE).gettext("Packed; address locked")
REPEAT_SCAN = translations(LOCALE).gettext("Already packed at %(time)s").split("%(time)s")[0]
ANSWERS = re.compile(r"^first (\d+) repeat (\d+) other (\d+)$", re.MULTILINE)

LUA_TEMPLATE = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["HX-Request"] = "true"
wrk.headers["Cookie"] = %(cookie)s
wrk.headers["X-CSRF-Token"] = %(token)s
local first_scan, repeat_scan = %(first)s, %(repeat)s
codes = {
%(codes)s
}
local threads = {}
function setup(thread) table.insert(threads, thread) end
-- The rotation starts where the previous run stopped (wrk ... -- <orders already sent>).
function init(args) first, again, other, index = 0, 0, 0, tonumber(args[1] or "0") end
function request()
  index = index %% #codes + 1
  return wrk.format(nil, nil, nil, "code=" .. codes[index])
end
function response(status, headers, body)
  if status == 200 and string.find(body, first_scan, 1, true) then first = first + 1
  elseif status == 200 and string.find(body, repeat_scan, 1, true) then again = again + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local f, a, o = 0, 0, 0
  for _, t in ipairs(threads) do
    f, a, o = f + t:get("first"), a + t:get("again"), o + t:get("other")
  end
  io.write(string.format("first %%d repeat %%d other %%d\\n", f, a, o))
end
"""


@dataclass(frozen=True)
class Seeded:
    warmup: list[str]
    load: list[str]
    timed: list[str]
    seconds: float


@dataclass(frozen=True)
class Load:
    connections: int
    wrk: WrkResult
    p50_ms: float
    first: int
    repeats: int
    other: int


@dataclass(frozen=True)
class Timings:
    """Wall and CPU milliseconds of each scan_parcel call, in this process."""

    wall_ms: list[float]
    cpu_ms: list[float]


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def seed_paid_orders(
    database: Database, prefix: str, count: int, deadline: float = float("inf"), least: int = 0
) -> list[str]:
    """`count` paid orders through the order service, or `least` once the deadline passed."""
    placed_at = utcnow() - timedelta(hours=2)
    for index in range(count):
        if index >= least and time.perf_counter() > deadline:
            break
        # Groups share phones: a customer with a few orders, as is common.
        phone = f"136{index:08d}"
        order_id = place_order(
            database,
            NewOrder(
                channel=SalesChannel.TAOBAO,
                channel_order_no=f"{prefix}{index:05d}",
                customer_name="李娜",
                customer_phone=phone,
                address=NewAddress("李娜", phone, "江苏省", "南京市", "鼓楼区", "中山路18号"),
                lines=[NewLine("TEA-LJ-250", "明前西湖龙井 250g 礼盒装", 1, 26_800)],
                payment_method=PaymentMethod.WECHAT_PAY,
                placed_at=placed_at,
            ),
            BENCH_ACTOR,
        )
        apply_action(database, order_id, OrderAction.PAY, BENCH_ACTOR, at=placed_at)
    with database.read() as session:
        return list(
            session.scalars(
                select(Order.public_no)
                .where(Order.channel_order_no.startswith(prefix))
                .order_by(Order.id)
            )
        )


def seed(backend: Backend) -> tuple[Database, Seeded]:
    started = time.perf_counter()
    database = seed_demo(backend)
    add_staff(database, STAFF_NAME, Role.WAREHOUSE, STAFF_PASSWORD, BENCH_ACTOR)
    timed = seed_paid_orders(database, "PACKT", TIMED_WARMUP + TIMED_ORDERS)
    warmup = seed_paid_orders(database, "PACKW", WARMUP_ORDERS)
    deadline = started + SEED_BUDGET_SECONDS
    load = seed_paid_orders(database, "PACKL", MAX_ORDERS, deadline, LEAST_ORDERS)
    return database, Seeded(warmup, load, timed, time.perf_counter() - started)


def time_scans(database: Database, codes: list[str], repeat: bool) -> Timings:
    """scan_parcel on each code in turn; each answer must say first scan or repeat as expected."""
    actor = Actor(ActorKind.STAFF, STAFF_NAME, channel="scan", role=Role.WAREHOUSE)
    wall_ms, cpu_ms = [], []
    for code in codes:
        wall, cpu = time.perf_counter(), time.process_time()
        result = scan_parcel(database, code, actor)
        wall_ms.append((time.perf_counter() - wall) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
        if result.already_scanned is not repeat:
            raise RuntimeError(f"{code}: already_scanned={result.already_scanned}, not {repeat}")
    return Timings(wall_ms, cpu_ms)


def sign_in(base: str) -> dict[str, str]:
    """The warehouse member's cookies after POST /admin/login, as their browser holds them."""
    with httpx.Client(base_url=base, timeout=10) as client:
        client.get("/admin/login").raise_for_status()
        token = client.cookies[CSRF_COOKIE]
        form = {"name": STAFF_NAME, "password": STAFF_PASSWORD, "csrf_token": token}
        answer = client.post("/admin/login", data=form)
        if answer.status_code != 303 or STAFF_COOKIE not in answer.cookies:
            raise RuntimeError(f"/admin/login answered {answer.status_code} without a session")
        page = client.get("/warehouse/scan")
        if page.status_code != 200:
            raise RuntimeError(f"/warehouse/scan answered {page.status_code} when signed in")
        return {CSRF_COOKIE: token, STAFF_COOKIE: client.cookies[STAFF_COOKIE], "lang": LOCALE}


def scan_headers(cookies: dict[str, str]) -> dict[str, str]:
    return {
        "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
        CSRF_HEADER: cookies[CSRF_COOKIE],
        "HX-Request": "true",
    }


def check_sample(url: str, cookies: dict[str, str], code: str) -> None:
    """First scan, repeat, no CSRF header (403), unknown code (404), by hand."""
    with httpx.Client(timeout=10, headers=scan_headers(cookies)) as client:
        for marker in (FIRST_SCAN, REPEAT_SCAN):
            answer = client.post(url, data={"code": code})
            if answer.status_code != 200 or marker not in answer.text:
                raise RuntimeError(f"scan answered {answer.status_code}: {answer.text[:300]}")
        unknown = client.post(url, data={"code": "NO-SUCH-PARCEL"})
        if unknown.status_code != 404:
            raise RuntimeError(f"an unknown code answered {unknown.status_code}")
        client.headers.pop(CSRF_HEADER)
        forged = client.post(url, data={"code": code})
        if forged.status_code != 403:
            raise RuntimeError(f"a scan without the CSRF header answered {forged.status_code}")


def write_lua(codes: list[str], cookies: dict[str, str], path: Path) -> Path:
    headers = scan_headers(cookies)
    path.write_text(
        LUA_TEMPLATE
        % {
            "cookie": lua_string(headers["Cookie"]),
            "token": lua_string(headers[CSRF_HEADER]),
            "first": lua_string(FIRST_SCAN),
            "repeat": lua_string(REPEAT_SCAN),
            "codes": ",\n".join(lua_string(code) for code in codes),
        }
    )
    return path


def run_wrk(
    url: str, script: Path, seconds: int, server_pid: int, connections: int, start: int = 0
) -> Load:
    run = run_script(url, script, seconds, server_pid, connections, start)
    first, repeats, other = run.tally(ANSWERS)
    return Load(connections, run.result, run.p50_ms, first, repeats, other)


def drive(backend: Backend, seeded: Seeded) -> tuple[Load, Load]:
    """Serve, sign in, check by hand, warm up; then one scanner alone, then the load."""
    with scratch_directory() as directory:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        environment = server_environment(backend.url, base, directory)
        with serve(environment, port) as pid:
            cookies = sign_in(base)
            url = f"{base}/warehouse/scan"
            check_sample(url, cookies, seeded.warmup[0])
            warmup = write_lua(seeded.warmup, cookies, directory / "warmup.lua")
            run_wrk(url, warmup, WARMUP_SECONDS, pid, CONNECTIONS)
            script = write_lua(seeded.load, cookies, directory / "scans.lua")
            one = run_wrk(url, script, ONE_SCANNER_SECONDS, pid, 1)
            # The scan in flight when wrk stopped is not counted; skip its order.
            sent = one.first + one.repeats + one.other + 1
            load = run_wrk(url, script, SECONDS, pid, CONNECTIONS, start=sent)
    return one, load


def analyze(database: Database) -> None:
    """Statistics as autovacuum keeps them once pack scans are common (here: after the timed).

    Without them, or with ones taken before any scan, PostgreSQL reads every audit event
    (seq scan + top-N sort) for the recent-scans list instead of the `at` index backwards.
    """
    with database.engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def count_packed(database: Database, prefix: str) -> tuple[int, int]:
    """Orders of the set with their address locked, and pack-scan audit events about them."""
    in_set = Order.channel_order_no.startswith(prefix)
    with database.read() as session:
        locked = session.scalar(
            select(func.count()).where(in_set, Order.address_locked_at.is_not(None))
        )
        events = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .join(Order, Order.id == AuditEvent.order_id)
            .where(in_set, AuditEvent.action == "order.pack_scanned")
        )
    return locked or 0, events or 0


def p50_p99(milliseconds: Sequence[float], width: int = 0) -> str:
    p50, p99 = percentile(milliseconds, 0.5), percentile(milliseconds, 0.99)
    return f"p50 {p50:{width}.2f} ms, p99 {p99:{width}.2f} ms"


def describe_timings(timings: Timings) -> str:
    wall = timings.wall_ms
    return f"{p50_p99(wall, 5)}, max {max(wall):5.1f} ms; CPU {p50_p99(timings.cpu_ms, 5)}"


def measure_backend(backend: Backend) -> list[str]:
    database, seeded = seed(backend)
    try:
        print(
            f"\n  {backend.label}: {len(seeded.load):,} paid orders for the load (one "
            f"scanner first), {len(seeded.warmup)} for the warm-up, {len(seeded.timed)} to "
            f"time in-process (+ demo orders) seeded in {seeded.seconds:.1f} s"
        )
        warm, timed = seeded.timed[:TIMED_WARMUP], seeded.timed[TIMED_WARMUP:]
        time_scans(database, warm, repeat=False)
        first, again = time_scans(database, timed, False), time_scans(database, timed, True)
        print(f"    in-process  first scans  {describe_timings(first)} ({len(timed)} orders)")
        print(f"    {'':11} repeats      {describe_timings(again)}")
        if not backend.is_sqlite:
            analyze(database)
        one_scanner, load = drive(backend, seeded)
        locked, events = count_packed(database, "PACKL")
    finally:
        database.dispose()
    for each in (one_scanner, load):
        print_load(each)
    # wrk stops with scans in flight: they are stored but not counted.
    same = "one each" if events == locked else "!! MISMATCH"
    print(
        f"    {'':6} {locked:,} load orders locked in the database for "
        f"{one_scanner.first + load.first:,} first-scan answers; {events:,} pack-scan audit "
        f"events for them ({same})"
    )
    return report(backend, one_scanner, load, first, again)


def cpu_ms_per_scan(load: Load) -> str:
    cpu = load.wrk.server_cpu_seconds
    return "" if cpu is None else f"{cpu * 1000 / max(load.wrk.requests, 1):.2f} ms server CPU/scan"


def print_load(load: Load) -> None:
    wrk = load.wrk
    print(
        f"    HTTP -c{load.connections:<3} {wrk.requests_per_second:5,.0f} scans/s, "
        f"p50 {load.p50_ms:5.1f} ms, p99 {wrk.p99_ms:5.1f} ms, {cpu_ms_per_scan(load)}"
    )
    answered = load.first + load.repeats + load.other
    flag = "  !!" if load.other or wrk.bad_responses or wrk.socket_errors else ""
    print(
        f"    {'':6} {answered:,} answers: {load.first:,} first scans (packed, address locked), "
        f"{load.repeats:,} repeats (already packed), {load.other:,} other; "
        f"{wrk.bad_responses} non-2xx/3xx, {wrk.socket_errors} socket errors{flag}"
    )


def summarize_load(backend: Backend, load: Load, name: str) -> str:
    wrk = load.wrk
    figure = f"{wrk.requests_per_second:,.0f} scans/s, p50 {load.p50_ms:.1f} ms, "
    figure += f"p99 {wrk.p99_ms:.1f} ms"
    context = f"{cpu_ms_per_scan(load)}; {load.first:,} first scans, {load.repeats:,} repeats; "
    context += f"{wrk.bad_responses} non-2xx, {load.other} other answers"
    return row("pack scans", f"{backend.label}, {name} (wrk -c{load.connections})", figure, context)


def report(
    backend: Backend, one_scanner: Load, load: Load, first: Timings, again: Timings
) -> list[str]:
    in_process = f"first {p50_p99(first.wall_ms)}"
    repeats = f"repeat {p50_p99(again.wall_ms)}; {len(first.wall_ms)} orders, no HTTP"
    return [
        summarize_load(backend, load, "HTTP load"),
        summarize_load(backend, one_scanner, "HTTP one scanner"),
        row("pack scans", f"{backend.label}, scan_parcel in-process", in_process, repeats),
    ]


def run() -> list[str]:
    print("== warehouse pack scans: one uvicorn worker under wrk, and scan_parcel in-process ==")
    if shutil.which("wrk") is None:
        print("  wrk is not installed (make bench-deps); skipped")
        return [row("pack scans", "skipped", "wrk not installed", "")]
    print(
        f"  uvicorn {' '.join(server_flavour())}, embedded worker off, no access log; "
        f"wrk -t1 -c{CONNECTIONS} --latency -s scans.lua (POST /warehouse/scan as htmx, "
        f"signed in as warehouse staff) for {SECONDS}s, after a {WARMUP_SECONDS}s warm-up and "
        f"{ONE_SCANNER_SECONDS}s of one scanner alone (-c1); orders seeded for at most "
        f"{SEED_BUDGET_SECONDS:.0f} s; scan_parcel timed in-process on {TIMED_ORDERS} fresh "
        "orders, then again; "
        f"{os.cpu_count()} CPUs"
    )
    summary: list[str] = []
    with scratch_directory() as directory:
        for backend in list_backends(directory):
            summary += measure_backend(backend)
    return summary


if __name__ == "__main__":
    print("\n".join(run()))
