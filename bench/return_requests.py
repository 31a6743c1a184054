"""Return requests through auto-approval: returns/s and latency on one uvicorn worker under wrk.

Each request is what a customer's browser posts from the return form (POST
/orders/<no>/return: 1 of 2 × ¥128, 退货退款, 七天无理由, the form's csrf_token field, the
session and CSRF cookies, a same-origin Origin), each on another delivered order of
another customer, so every one is a first return: the rules approve it at once and it
waits for the parcel (no refund yet, no gateway call). file_return locks the order, runs
the rules and stores the request, its line, the order's move to after-sale and three audit
events in one transaction, on the portal's single writer thread.

The orders are seeded through the order services until PORTAL_BENCH_RETURN_SEED_SECONDS
(25) have passed; the lifecycle steps of a batch share one transaction (the same rows and
audit events as apply_action). Sessions: a few customers open their SMS link (/t/<code>)
by hand, and the server's cookie must name the same customer as the one this process
signs with portal.sessions.Sessions and the server's key (BENCH_SECRET, handed to it as
PORTAL_SECRET_KEYS); every other customer's cookie is signed here, since thousands of
link openings would only slow the seeding. wrk goes through the orders once, each run
starting where the last stopped; the load is shortened when the orders left would not
last (wrk divides by its whole -d even when the script stops it early, which is flagged).
Afterwards every stored request is counted: all must be auto-approved (awaiting parcel).

PORTAL_* variables in the environment reach the server, e.g. PORTAL_THREADS=1.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, select

from backend.clock import utcnow
from backend.db import Database
from backend.orders.access import CustomerSession, GrantedBy, issue_short_link
from backend.orders.lifecycle import OrderAction
from backend.orders.models import Order, OrderLine, PaymentMethod, SalesChannel
from backend.orders.service import NewAddress, NewLine, NewOrder, transition
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.models import Refund, ReturnRequest
from bench import BENCH_ACTOR, Backend, list_backends, row, scratch_directory, seed_demo
from bench.push_callbacks import serve, server_environment
from bench.tracking_page import _free_port, server_flavour
from bench.wrk import WrkResult, run_script
from portal.security import CSRF_COOKIE, CSRF_FIELD
from portal.sessions import CUSTOMER_COOKIE, Sessions
from portal.settings import load_settings
from tests.factories import create_shipment, place_order

SEED_BUDGET_SECONDS = float(os.environ.get("PORTAL_BENCH_RETURN_SEED_SECONDS", "25"))
MAX_ORDERS = 4000
# Seeded even past the budget, so a slow machine still has orders for every run.
LEAST_ORDERS = 1000
BATCH = 50
PREFIX = "RET"
# Opened through /t/<code> and posted by hand before the load; not in the rotation.
SAMPLE = 3
SECONDS = int(os.environ.get("PORTAL_BENCH_RETURN_SECONDS", "8"))
WARMUP_SECONDS = 2
ONE_CUSTOMER_SECONDS = 2
CONNECTIONS = int(os.environ.get("PORTAL_BENCH_CONNECTIONS", "16"))
FORM = {"refund_type": "return_and_refund", "reason": "no_reason_7_days"}
DESCRIPTION = "七天无理由退货，包装完好"
ANSWERS = re.compile(r"^filed (\d+) other (\d+) last (\d+) ran_out (\d)$", re.MULTILINE)
# Everything the Lua table holds: urlencoded bodies, itsdangerous and urlsafe tokens, paths.
LUA_SAFE = re.compile(r"^[A-Za-z0-9_.~%+=&;/ -]*$")

LUA_TEMPLATE = """\
wrk.method = "POST"
local origin = "%(origin)s"
items = {
%(items)s
}
local threads = {}
function setup(thread) table.insert(threads, thread) end
-- Starts after the orders an earlier run used (wrk ... -- <index>).
function init(args) index, filed, other, ran_out = tonumber(args[1] or "0"), 0, 0, 0 end
function request()
  if index >= #items then
    -- Out of orders: stop rather than file a second return on one; a /ping goes out.
    ran_out = 1
    wrk.thread:stop()
    return wrk.format("GET", "/ping", {}, "")
  end
  index = index + 1
  local item = items[index]
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded",
                   ["Origin"] = origin, ["Cookie"] = item[2]}
  return wrk.format(nil, item[1], headers, item[3])
end
function response(status, headers, body)
  local location = headers["location"] or headers["Location"] or ""
  local ok = status == 303 and string.find(location, "/returns/", 1, true)
  if ok then filed = filed + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local f, o, last, out = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    f, o = f + t:get("filed"), o + t:get("other")
    last, out = math.max(last, t:get("index")), math.max(out, t:get("ran_out"))
  end
  io.write(string.format("filed %%d other %%d last %%d ran_out %%d\\n", f, o, last, out))
end
"""


@dataclass(frozen=True)
class Target:
    """One delivered order and what its customer's browser posts to return one item."""

    order_id: int
    public_no: str
    customer_id: int
    line_id: int
    cookie: str
    csrf: str

    @property
    def path(self) -> str:
        return f"/orders/{self.public_no}/return"

    def body(self, csrf: str | None = None) -> str:
        form = {f"qty_{self.line_id}": "1", **FORM, "description": DESCRIPTION}
        return urlencode({**form, CSRF_FIELD: self.csrf if csrf is None else csrf})


@dataclass(frozen=True)
class Load:
    name: str
    connections: int
    seconds: int
    wrk: WrkResult
    p50_ms: float
    filed: int
    other: int
    last: int
    ran_out: bool


@dataclass(frozen=True)
class Stored:
    requests: int
    orders: int
    awaiting_parcel: int
    refunds: int


def _new_order(index: int, placed_at: datetime) -> NewOrder:
    phone = f"137{index:08d}"  # one customer each: no earlier refunds to count against them
    return NewOrder(
        channel=SalesChannel.TAOBAO,
        channel_order_no=f"{PREFIX}{index:05d}",
        customer_name="陈静",
        customer_phone=phone,
        address=NewAddress("陈静", phone, "四川省", "成都市", "武侯区", "人民南路四段27号"),
        lines=[NewLine("TEA-LJ-250", "明前西湖龙井 250g", 2, 12_800)],
        payment_method=PaymentMethod.WECHAT_PAY,
        placed_at=placed_at,
    )


def _advance(
    database: Database, order_ids: list[int], actions: list[OrderAction], at: datetime
) -> None:
    """apply_action's work for a batch of orders in one transaction."""
    with database.write() as session:
        for order_id in order_ids:
            order = session.get(Order, order_id)
            assert order is not None
            for action in actions:
                transition(session, order, action, BENCH_ACTOR, at)


def seed_delivered_orders(database: Database, deadline: float) -> None:
    """Orders signed for two days ago, in batches, until the deadline (or LEAST_ORDERS)."""
    delivered_at = utcnow() - timedelta(days=2)
    shipped_at, placed_at = delivered_at - timedelta(days=1), delivered_at - timedelta(days=2)
    seeded = 0
    while seeded < MAX_ORDERS and (seeded < LEAST_ORDERS or time.perf_counter() < deadline):
        batch = range(seeded, seeded + BATCH)
        ids = [place_order(database, _new_order(index, placed_at), BENCH_ACTOR) for index in batch]
        packing = [OrderAction.PAY, OrderAction.START_PICKING, OrderAction.PACK]
        _advance(database, ids, packing, placed_at + timedelta(hours=1))
        for order_id, index in zip(ids, batch, strict=True):
            tracking_no = f"SB{800_000_000_000 + index}"
            create_shipment(database, order_id, "sandbox", tracking_no, BENCH_ACTOR, at=shipped_at)
        _advance(database, ids, [OrderAction.DELIVER], delivered_at)
        seeded += BATCH


def list_targets(database: Database, sessions: Sessions) -> list[Target]:
    """Every seeded order with its customer's signed session and a CSRF token of its own."""
    with database.read() as session:
        rows = session.execute(
            select(Order.id, Order.public_no, Order.customer_id, OrderLine.id, Order.link_version)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(Order.channel_order_no.startswith(PREFIX))
            .order_by(Order.id)
        ).all()
    targets = []
    for order_id, public_no, customer_id, line_id, link_version in rows:
        csrf = secrets.token_urlsafe(32)
        granted = CustomerSession(customer_id, order_id, link_version, GrantedBy.SHORT_LINK)
        value = sessions.customer_cookie_value(granted)
        cookie = f"{CUSTOMER_COOKIE}={value}; {CSRF_COOKIE}={csrf}"
        targets.append(Target(order_id, public_no, customer_id, line_id, cookie, csrf))
    if len({target.customer_id for target in targets}) != len(targets):
        raise RuntimeError("the seeded orders share customers")
    return targets


def check_sample(database: Database, base: str, sessions: Sessions, targets: list[Target]) -> None:
    """Links open as the signed cookies say; no CSRF 403s, another's order 404s; filed, shown."""
    for target, stranger in zip(targets, targets[1:] + targets[:1], strict=True):
        code = issue_short_link(database, target.order_id, BENCH_ACTOR, timedelta(days=1))
        with httpx.Client(base_url=base, timeout=10) as client:
            entered = client.get(f"/t/{code}")
            granted = sessions.read_customer_cookie(entered.cookies.get(CUSTOMER_COOKIE))
            served = granted.customer_id if granted else None
            if entered.status_code != 303 or served != target.customer_id:
                raise RuntimeError(f"/t/<code> answered {entered.status_code}, customer {served}")
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": base}
        with httpx.Client(base_url=base, timeout=10, headers=headers) as client:
            form = client.get(target.path, headers={"Cookie": target.cookie})
            if form.status_code != 200 or f'name="qty_{target.line_id}"' not in form.text:
                raise RuntimeError(f"the return form answered {form.status_code} to the cookie")
            posts = [
                (target.cookie, target.body(csrf="")),
                (stranger.cookie, target.body(csrf=stranger.csrf)),
                (target.cookie, target.body()),
            ]
            answers = [client.post(target.path, content=b, headers={"Cookie": c}) for c, b in posts]
            progress = answers[-1].headers.get("location", "")
            if "/returns/" in progress:
                answers.append(client.get(progress, headers={"Cookie": target.cookie}))
        codes = [answer.status_code for answer in answers]
        if codes != [403, 404, 303, 200]:
            raise RuntimeError(f"no CSRF, another's order, filed, progress page answered {codes}")


def write_lua(targets: list[Target], origin: str, path: Path) -> Path:
    items = []
    for target in targets:
        cells = (target.path, target.cookie, target.body())
        if not all(LUA_SAFE.match(cell) for cell in cells):
            raise RuntimeError(f"not safe in a Lua string: {cells}")
        items.append("{" + ", ".join(f'"{cell}"' for cell in cells) + "}")
    path.write_text(LUA_TEMPLATE % {"origin": origin, "items": ",\n".join(items)})
    return path


def run_wrk(
    name: str, url: str, script: Path, seconds: int, server_pid: int, connections: int, start: int
) -> Load:
    run = run_script(url, script, seconds, server_pid, connections, start)
    filed, other, last, ran_out = run.tally(ANSWERS)
    return Load(
        name, connections, seconds, run.result, run.p50_ms, filed, other, last, bool(ran_out)
    )


def load_seconds(warm: Load, left: int) -> int:
    """SECONDS, or less when the orders left would run out at 1.5 times the warm-up's pace."""
    pace = warm.filed / WARMUP_SECONDS * 1.5
    return SECONDS if pace <= 0 else max(1, min(SECONDS, int(left / pace)))


def drive(backend: Backend, database: Database) -> tuple[int, list[Load]]:
    """Serve, check by hand, warm up; then one customer alone (-c1), then the load."""
    with scratch_directory() as directory:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        environment = server_environment(backend.url, base, directory)
        sessions = Sessions(load_settings(environment))
        targets = list_targets(database, sessions)
        script = write_lua(targets[SAMPLE:], base, directory / "returns.lua")
        with serve(environment, port) as pid:
            check_sample(database, base, sessions, targets[:SAMPLE])
            url = f"{base}/ping"  # each request names its own path
            warm = run_wrk("warm-up", url, script, WARMUP_SECONDS, pid, CONNECTIONS, 0)
            one = run_wrk("one customer", url, script, ONE_CUSTOMER_SECONDS, pid, 1, warm.last)
            seconds = load_seconds(warm, len(targets) - SAMPLE - one.last)
            load = run_wrk("load", url, script, seconds, pid, CONNECTIONS, one.last)
    return len(targets), [warm, one, load]


def count_stored(database: Database) -> Stored:
    in_set = Order.channel_order_no.startswith(PREFIX)
    with database.read() as session:
        requests, orders, waiting = session.execute(
            select(
                func.count(),
                func.count(ReturnRequest.order_id.distinct()),
                func.count().filter(ReturnRequest.status == ReturnStatus.AWAITING_PARCEL),
            )
            .select_from(ReturnRequest)
            .join(Order, Order.id == ReturnRequest.order_id)
            .where(in_set)
        ).one()
        refunds = session.scalar(select(func.count()).select_from(Refund).join(Order).where(in_set))
    return Stored(requests, orders, waiting, refunds or 0)


def measure_backend(backend: Backend) -> list[str]:
    started = time.perf_counter()
    database = seed_demo(backend)
    try:
        seed_delivered_orders(database, started + SEED_BUDGET_SECONDS)
        seed_seconds = time.perf_counter() - started
        seeded, (warm, one, load) = drive(backend, database)
        stored = count_stored(database)
    finally:
        database.dispose()
    print(
        f"\n  {backend.label}: {seeded:,} delivered orders of {seeded:,} customers (+ demo "
        f"orders) seeded in {seed_seconds:.1f} s; {SAMPLE} opened by SMS link and posted by "
        "hand (no CSRF token 403, another customer's order 404, filed 303, progress page 200)"
    )
    for each in (warm, one, load):
        print_load(each)
    report_stored(stored, SAMPLE + load.last, warm.filed + one.filed + load.filed + SAMPLE)
    return [
        summarize(backend, load, stored),
        summarize(backend, one, stored),
    ]


def cpu_ms(load: Load) -> str:
    cpu = load.wrk.server_cpu_seconds
    return "" if cpu is None else f"{cpu * 1000 / max(load.wrk.requests, 1):.2f} ms server CPU/req"


def print_load(load: Load) -> None:
    wrk = load.wrk
    print(
        f"    {load.name:<12} -c{load.connections:<3} {wrk.requests_per_second:4,.0f} returns/s "
        f"over {load.seconds} s, p50 {load.p50_ms:6.1f} ms, p99 {wrk.p99_ms:6.1f} ms, "
        f"{cpu_ms(load)}"
    )
    flag = "  !!" if load.other or wrk.bad_responses or wrk.socket_errors else ""
    # wrk divides by its whole -d even when the script stopped it early.
    out = "; !! ran out of orders: returns/s is too low" if load.ran_out else ""
    print(
        f"    {'':18} {load.filed:,} filed (303 to the progress page), {load.other:,} other; "
        f"{wrk.bad_responses} non-2xx/3xx, {wrk.socket_errors} socket errors{flag}{out}"
    )


def report_stored(stored: Stored, sent: int, answered: int) -> None:
    ok = stored.requests == stored.orders == stored.awaiting_parcel and not stored.refunds
    # wrk stops with requests in flight: stored, but their 303 is never counted.
    print(
        f"    stored {stored.requests:,} return requests on {stored.orders:,} orders, "
        f"{stored.awaiting_parcel:,} auto-approved (awaiting parcel), {stored.refunds} refund "
        f"rows; {answered:,} 303s counted of {sent:,} posted (hand, warm-up, -c1, load)"
        + ("" if ok and answered <= stored.requests <= sent else "  !! MISMATCH")
    )


def summarize(backend: Backend, load: Load, stored: Stored) -> str:
    wrk = load.wrk
    figure = f"{wrk.requests_per_second:,.0f} returns/s, p50 {load.p50_ms:.1f} ms, "
    figure += f"p99 {wrk.p99_ms:.1f} ms"
    context = f"{cpu_ms(load)}; {load.filed:,} filed, {wrk.bad_responses} non-2xx; "
    context += f"{stored.awaiting_parcel:,} of {stored.requests:,} stored auto-approved"
    return row(
        "return requests",
        f"{backend.label}, {load.name} (wrk -c{load.connections})",
        figure,
        context,
    )


def run() -> list[str]:
    print("== return requests: one uvicorn worker files returns under wrk, one order each ==")
    if shutil.which("wrk") is None:
        print("  wrk is not installed (make bench-deps); skipped")
        return [row("return requests", "skipped", "wrk not installed", "")]
    print(
        f"  uvicorn {' '.join(server_flavour())}, embedded worker off, no access log; "
        f"wrk -t1 --latency -s returns.lua (POST /orders/<no>/return as the form posts it, "
        f"退货退款 七天无理由 1 × ¥128): {WARMUP_SECONDS}s warm-up -c{CONNECTIONS}, "
        f"{ONE_CUSTOMER_SECONDS}s -c1, {SECONDS}s -c{CONNECTIONS}; orders seeded for at most "
        f"{SEED_BUDGET_SECONDS:.0f} s; session cookies signed here with the server's key, "
        f"checked against /t/<code>; {os.cpu_count()} CPUs"
    )
    summary: list[str] = []
    with scratch_directory() as directory:
        for backend in list_backends(directory):
            summary += measure_backend(backend)
    return summary


if __name__ == "__main__":
    print("\n".join(run()))
