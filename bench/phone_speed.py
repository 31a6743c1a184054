"""LCP and CLS of every customer page on a slow phone, cold and warm cache, against a minimal page.

Debian's Chromium (Playwright, dressed as an iPhone 13) opens each page of
bench/phone_pages.py from one uvicorn worker on a seeded scratch SQLite database, under
Slow 4G as DevTools defines it (150 ms round trip, 1.6 Mbps down, 0.75 Mbps up, through
CDP Network.emulateNetworkConditions) and a CPU slowed four times
(Emulation.setCPUThrottlingRate). LCP and CLS are read from PerformanceObserver
('largest-contentful-paint', 'layout-shift', buffered) once the page has loaded and then
sat still for SETTLE_MS, so shifts from deferred scripts and htmx are counted too.

Cold: a new browser context (empty cache, the customer's cookies only). Warm: the same
page again in that context, its static files cached. Every round opens every page (and
the baseline, a minimal page the same server answers) once each way, so drift on a shared
machine hits them all; each figure is the median and the worst over RUNS rounds, printed
next to the baseline's median from the same run.

    python -m bench phone_speed
    python -m bench.phone_speed --screenshots DIR   # each page at 390 and 320 px, unthrottled
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from bench import list_backends, row, scratch_directory, seed_demo
from bench.phone_pages import BASELINE_PATH, CustomerPage, check_pages, list_pages
from bench.tracking_page import serve

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = "iPhone 13"
# DevTools' "Slow 4G" preset: throughput in bytes per second.
SLOW_4G = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1.6 * 1024 * 1024 / 8,
    "uploadThroughput": 0.75 * 1024 * 1024 / 8,
}
CPU_SLOWDOWN = 4
RUNS = int(os.environ.get("PORTAL_BENCH_PHONE_RUNS", "5"))
SETTLE_MS = 1500
LCP_AIM_MS = 1000.0
CLS_AIM = 0.02

# Buffered observers hand over every entry since navigation; takeRecords() reads them now.
READ_VITALS = """() => new Promise((resolve) => {
  let lcp = 0, cls = 0;
  const lcpObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) { lcp = entry.renderTime || entry.startTime; }
  });
  const clsObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) { if (!entry.hadRecentInput) { cls += entry.value; } }
  });
  lcpObserver.observe({type: "largest-contentful-paint", buffered: true});
  clsObserver.observe({type: "layout-shift", buffered: true});
  setTimeout(() => {
    lcpObserver.takeRecords(); clsObserver.takeRecords();
    lcpObserver.disconnect(); clsObserver.disconnect();
    resolve({lcp, cls});
  }, 100);
})"""


@dataclass
class Figures:
    """One page's samples, one cache state."""

    lcp_ms: list[float] = field(default_factory=list)
    cls: list[float] = field(default_factory=list)

    def add(self, vitals: dict[str, float]) -> None:
        self.lcp_ms.append(float(vitals["lcp"]))
        self.cls.append(float(vitals["cls"]))

    @property
    def lcp_median(self) -> float:
        return statistics.median(self.lcp_ms)

    @property
    def lcp_worst(self) -> float:
        return max(self.lcp_ms)

    @property
    def cls_worst(self) -> float:
        return max(self.cls)

    @property
    def meets_aims(self) -> bool:
        return self.lcp_worst <= LCP_AIM_MS and self.cls_worst <= CLS_AIM


@dataclass
class PageFigures:
    page: CustomerPage
    cold: Figures = field(default_factory=Figures)
    warm: Figures = field(default_factory=Figures)


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def phone_options(playwright: Playwright, base: str, width: int = 390) -> dict[str, Any]:
    device = dict(playwright.devices[PHONE])
    device.pop("default_browser_type", None)  # the descriptor names WebKit
    viewport = {**device["viewport"], "width": width}
    return {**device, "viewport": viewport, "base_url": base, "locale": "zh-CN"}


@contextmanager
def phone_context(
    browser: Browser, playwright: Playwright, base: str, page: CustomerPage, width: int = 390
) -> Iterator[BrowserContext]:
    context = browser.new_context(**phone_options(playwright, base, width))
    if page.cookies:
        context.add_cookies(
            [{"name": name, "value": value, "url": base} for name, value in page.cookies.items()]
        )
    try:
        yield context
    finally:
        context.close()


def open_throttled(context: BrowserContext, path: str) -> dict[str, float]:
    tab = context.new_page()
    cdp = context.new_cdp_session(tab)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    answer = tab.goto(path, wait_until="load", timeout=60_000)
    if answer is None or answer.status >= 500:
        raise RuntimeError(f"{path} answered {answer.status if answer else 'nothing'}")
    tab.wait_for_timeout(SETTLE_MS)
    vitals: dict[str, float] = tab.evaluate(READ_VITALS)
    tab.close()
    return vitals


def measure_round(
    browser: Browser, playwright: Playwright, base: str, figures: list[PageFigures]
) -> None:
    for one in figures:
        with phone_context(browser, playwright, base, one.page) as context:
            one.cold.add(open_throttled(context, one.page.path))
            one.warm.add(open_throttled(context, one.page.path))


def describe(figures: Figures, baseline: Figures) -> str:
    ratio = figures.lcp_median / baseline.lcp_median if baseline.lcp_median else 0
    aims = "meets" if figures.meets_aims else "MISSES"
    return (
        f"LCP median {figures.lcp_median:5.0f} ms, worst {figures.lcp_worst:5.0f} ms "
        f"({ratio:4.2f}x baseline)  CLS worst {figures.cls_worst:.3f}  {aims} the aims"
    )


def report(figures: list[PageFigures]) -> list[str]:
    baseline, pages = figures[0], figures[1:]
    summary = []
    for state in ("cold", "warm"):
        base: Figures = getattr(baseline, state)
        print(f"  {state} cache; baseline (minimal page) LCP median {base.lcp_median:.0f} ms")
        for one in pages:
            measured: Figures = getattr(one, state)
            print(f"    {one.page.name:<24} {describe(measured, base)}")
            summary.append(
                row(
                    "phone speed",
                    f"{one.page.name}, {state} cache",
                    f"LCP {measured.lcp_median:.0f} ms (worst {measured.lcp_worst:.0f}), "
                    f"CLS {measured.cls_worst:.3f} worst",
                    f"baseline {base.lcp_median:.0f} ms; aims LCP <= {LCP_AIM_MS:.0f} ms, "
                    f"CLS <= {CLS_AIM}: {'met' if measured.meets_aims else 'NOT met'}",
                )
            )
    return summary


@contextmanager
def served_pages() -> Iterator[tuple[str, list[CustomerPage]]]:
    with scratch_directory() as directory:
        backend = list_backends(directory)[0]  # SQLite: the phone's wait is the network
        database = seed_demo(backend)
        try:
            with serve(
                backend.url, True, directory, factory="bench.phone_pages:create_served_app"
            ) as (base, _pid):
                pages = list_pages(base, database)
                check_pages(base, pages)
                yield base, pages
        finally:
            database.dispose()


def run() -> list[str]:
    print("== customer pages on a phone: Slow 4G, CPU x4, LCP and CLS ==")
    if not Path(CHROMIUM).exists():
        print(f"  no Chromium at {CHROMIUM} (make browser-deps, or set PORTAL_CHROMIUM); skipped")
        return [row("phone speed", "skipped", f"no Chromium at {CHROMIUM}", "")]
    print(
        f"  Chromium {PHONE}, 150 ms RTT, 1.6/0.75 Mbps, CPU x{CPU_SLOWDOWN}; {RUNS} rounds, "
        f"settle {SETTLE_MS} ms after load; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    with served_pages() as (base, pages), sync_playwright() as playwright:
        baseline = CustomerPage("baseline", BASELINE_PATH, None, "")
        figures = [PageFigures(page) for page in (baseline, *pages)]
        browser = launch(playwright)
        try:
            for _ in range(RUNS):
                measure_round(browser, playwright, base, figures)
        finally:
            browser.close()
    print(f"  (after the runs: load {os.getloadavg()[0]:.2f})")
    return report(figures)


def take_screenshots(out: Path) -> None:
    """Every page at 390 and 320 CSS px, full length, unthrottled: to compare by eye."""
    out.mkdir(parents=True, exist_ok=True)
    with served_pages() as (base, pages), sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for page in pages:
                for width in (390, 320):
                    with phone_context(browser, playwright, base, page, width) as context:
                        tab = context.new_page()
                        tab.goto(page.path, wait_until="networkidle")
                        name = "".join(c if c.isalnum() else "-" for c in page.name).strip("-")
                        target = out / f"{name}-{width}.png"
                        tab.screenshot(path=str(target), full_page=True)
                        print(target)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", type=Path, help="only take screenshots, into this folder")
    options = parser.parse_args()
    if options.screenshots:
        take_screenshots(options.screenshots)
    else:
        print("\n".join(run()))


if __name__ == "__main__":
    main()
