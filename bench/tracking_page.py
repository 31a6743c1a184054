"""Tracking page requests/s and p99 on one uvicorn worker, next to /ping, driven by wrk.

The app runs in a subprocess (`uvicorn --factory portal.app:create_app`, settings
from PORTAL_* variables, embedded worker off, no access log) against a freshly
seeded demo database. wrk sends the cookies a returning customer's browser sends
(session and CSRF), to /ping and to the tracking page alike, so the two differ only
in the page's own work. Both `inline_reads` modes are measured. wrk sends no
Accept-Encoding unless told: one extra series asks for gzip, as a phone would.

Other processes may share the cores, and their load comes and goes. So both modes'
servers run side by side and every series is cut into short rounds, interleaved
(ping, page, ... for one mode, then the other, round after round): drift hits all
series alike. Each series reports its best round (req/s, and that round's p99) and
the server's CPU time per request over all its rounds, which busy neighbours skew
less than req/s.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from bench import (
    BENCH_SECRET,
    Backend,
    DemoOrder,
    get_demo_order,
    issue_code,
    list_backends,
    row,
    scratch_directory,
    seed_demo,
)
from bench.wrk import WrkResult, parse_wrk, process_cpu_seconds

SECONDS = int(os.environ.get("PORTAL_BENCH_SECONDS", "10"))
ROUNDS = 5
WARMUP_SECONDS = 2
CONNECTIONS = int(os.environ.get("PORTAL_BENCH_CONNECTIONS", "16"))
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def run_wrk(url: str, headers: dict[str, str], seconds: int, server_pid: int) -> WrkResult:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    cpu_before = process_cpu_seconds(server_pid)
    finished = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    )
    cpu_after = process_cpu_seconds(server_pid)
    result = parse_wrk(finished.stdout)
    if cpu_before is None or cpu_after is None:
        return result
    return replace(result, server_cpu_seconds=cpu_after - cpu_before)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_flavour() -> list[str]:
    """uvicorn[standard]'s fast paths when they are installed, named so the output says so."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return ["--loop", loop, "--http", http]


def _wait_until_up(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/ping", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not answer /ping within 30 s")


@contextmanager
def serve(
    database_url: str,
    inline_reads: bool,
    var_dir: Path,
    page_cache: bool = True,
    factory: str = "portal.app:create_app",
) -> Iterator[tuple[str, int]]:
    """One uvicorn worker serving the app (or `factory`, which builds it from the same
    PORTAL_* variables); yields its base URL and pid, then stops it."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_SECRET_KEYS": BENCH_SECRET,
        "PORTAL_BASE_URL": base,
        "PORTAL_EMBEDDED_WORKER": "0",
        "PORTAL_INLINE_READS": "1" if inline_reads else "0",
        "PORTAL_PAGE_CACHE_SIZE": "2048" if page_cache else "0",
        "PORTAL_VAR_DIR": str(var_dir),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", factory]
    command += ["--host", "127.0.0.1", "--port", str(port), *server_flavour()]
    command += ["--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(command, env=environment, cwd=PROJECT_ROOT)
    try:
        _wait_until_up(process, base)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sign_in(base: str, code: str, order: DemoOrder) -> str:
    """The Cookie header a customer's browser sends after following the SMS link."""
    with httpx.Client(base_url=base, timeout=5) as client:
        entered = client.get(f"/t/{code}")
        if entered.status_code != 303 or "portal_customer" not in entered.cookies:
            raise RuntimeError(f"/t/<code> answered {entered.status_code} without a session")
        page = client.get(f"/orders/{order.public_no}")
        if page.status_code != 200 or order.public_no not in page.text:
            raise RuntimeError(f"tracking page answered {page.status_code} with the cookie")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


@dataclass(frozen=True)
class Series:
    """One load (a URL with its headers on one server), measured in interleaved rounds."""

    name: str
    url: str
    headers: dict[str, str]
    server_pid: int
    rounds: list[WrkResult] = field(default_factory=list)

    def measure(self, seconds: int) -> None:
        self.rounds.append(run_wrk(self.url, self.headers, seconds, self.server_pid))

    @property
    def best(self) -> WrkResult:
        return max(self.rounds, key=lambda result: result.requests_per_second)

    @property
    def cpu_ms_per_request(self) -> float | None:
        cpu = [r.server_cpu_seconds for r in self.rounds if r.server_cpu_seconds is not None]
        requests = sum(r.requests for r in self.rounds)
        if len(cpu) != len(self.rounds) or not requests:
            return None
        return sum(cpu) * 1000 / requests

    def describe(self) -> str:
        best, rates = self.best, [r.requests_per_second for r in self.rounds]
        text = f"best {best.requests_per_second:7,.0f} req/s, p99 {best.p99_ms:6.1f} ms"
        text += f"   rounds {min(rates):,.0f}-{max(rates):,.0f} req/s"
        if self.cpu_ms_per_request is not None:
            text += f"   {self.cpu_ms_per_request:.3f} ms CPU/req"
        bad = sum(r.bad_responses for r in self.rounds)
        errors = sum(r.socket_errors for r in self.rounds)
        if bad or errors:
            text += f"   !! {bad} non-2xx/3xx, {errors} socket errors"
        return text

    def summary_figure(self) -> str:
        text = f"{self.best.requests_per_second:,.0f} req/s, p99 {self.best.p99_ms:.1f} ms"
        if self.cpu_ms_per_request is not None:
            text += f", {self.cpu_ms_per_request:.2f} ms CPU/req"
        return text


def compare(page: Series, ping: Series) -> str:
    """The page as a share of /ping: by best req/s and, when known, by CPU per request."""
    text = f"{page.best.requests_per_second / ping.best.requests_per_second:.1%} of /ping by req/s"
    page_cpu, ping_cpu = page.cpu_ms_per_request, ping.cpu_ms_per_request
    if page_cpu and ping_cpu:
        text += f", {ping_cpu / page_cpu:.1%} by CPU/req"
    return text


def _mode_name(inline_reads: bool) -> str:
    return "inline reads on" if inline_reads else "inline reads off"


def build_series(
    backend: Backend,
    order: DemoOrder,
    code: str,
    inline_reads: bool,
    stack: ExitStack,
    page_cache: bool = True,
) -> list[Series]:
    """Starts the mode's server and warms it up; returns its series: ping, page (, gzip)."""
    var_dir = stack.enter_context(scratch_directory())
    base, pid = stack.enter_context(serve(backend.url, inline_reads, var_dir, page_cache))
    cookies = {"Cookie": sign_in(base, code, order)}
    mode = _mode_name(inline_reads) + ("" if page_cache else ", page cache off")
    page_url = f"{base}/orders/{order.public_no}"
    series = [
        Series(f"{mode}, /ping", f"{base}/ping", cookies, pid),
        Series(f"{mode}", page_url, cookies, pid),
    ]
    if inline_reads and page_cache:
        gzip_headers = {**cookies, "Accept-Encoding": "gzip"}
        series.append(Series(f"{mode}, Accept-Encoding: gzip", page_url, gzip_headers, pid))
    for one in series:
        run_wrk(one.url, one.headers, WARMUP_SECONDS, pid)
    return series


def report(backend: Backend, on: list[Series], off: list[Series], cold: list[Series]) -> list[str]:
    summary = []
    for ping, *pages in (on, off, cold):
        print(f"    {ping.name:<40} {ping.describe()}")
        for page in pages:
            print(f"    {page.name:<40} {page.describe()}")
            print(f"    {'':<40} = {compare(page, ping)}")
            context = compare(page, ping) + f" (/ping {ping.best.requests_per_second:,.0f} req/s)"
            summary.append(
                row(
                    "tracking page", f"{backend.label}, {page.name}", page.summary_figure(), context
                )
            )
    speedup = on[1].best.requests_per_second / off[1].best.requests_per_second
    faster = _mode_name(speedup >= 1)
    context = f"{faster} is faster"
    if on[1].cpu_ms_per_request and off[1].cpu_ms_per_request:
        context += f"; CPU/req {on[1].cpu_ms_per_request:.2f} vs {off[1].cpu_ms_per_request:.2f} ms"
    print(f"    inline reads on / off = {speedup:.2f}x req/s: {context}")
    summary.append(
        row(
            "tracking page",
            f"{backend.label}, inline reads on / off",
            f"{speedup:.2f}x req/s",
            context,
        )
    )
    return summary


def measure_backend(backend: Backend) -> list[str]:
    database = seed_demo(backend)
    try:
        order = get_demo_order(database)
        codes = {mode: issue_code(database, order) for mode in ("on", "off", "cold")}
    finally:
        database.dispose()
    print(
        f"\n  {backend.label}: order {order.public_no}, {order.events} events, {order.lines} lines"
    )
    with ExitStack() as stack:
        on = build_series(backend, order, codes["on"], True, stack)
        off = build_series(backend, order, codes["off"], False, stack)
        # Every request rendered from the database: what a page costs the first time.
        cold = build_series(backend, order, codes["cold"], True, stack, page_cache=False)
        seconds = max(SECONDS // ROUNDS, 1)
        for _ in range(ROUNDS):
            for series in (*on, *off, *cold):
                series.measure(seconds)
    return report(backend, on, off, cold)


def run() -> list[str]:
    print("== tracking page vs /ping: one uvicorn worker, wrk load ==")
    if shutil.which("wrk") is None:
        print("  wrk is not installed (make bench-deps); skipped")
        return [row("tracking page", "skipped", "wrk not installed", "")]
    flavour = " ".join(server_flavour())
    seconds = max(SECONDS // ROUNDS, 1)
    print(
        f"  uvicorn {flavour}, embedded worker off, no access log; wrk -t1 -c{CONNECTIONS} "
        f"--latency, {ROUNDS} interleaved rounds of {seconds}s per series after a "
        f"{WARMUP_SECONDS}s warm-up; {os.cpu_count()} CPUs"
    )
    summary: list[str] = []
    with scratch_directory() as directory:
        for backend in list_backends(directory):
            summary += measure_backend(backend)
    return summary


if __name__ == "__main__":
    print("\n".join(run()))
