"""`python -m bench [name ...]`: run the benchmarks in order, then print the summary table."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime

from bench import POSTGRES_URL_VARIABLE, row

BENCHMARKS = (
    "tracking_page",
    "query_count",
    "page_weight",
    "push_callbacks",
    "pack_scans",
    "pack_and_book",
    "channel_intake",
    "return_requests",
    "ship_confirmations",
    "operations_page",
    "job_wakeup",
    "phone_speed",
    "peak",
)


def describe_machine() -> str:
    wrk = "not installed"
    if shutil.which("wrk"):
        # wrk -v prints its version and exits 1.
        finished = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        wrk = (finished.stdout or finished.stderr).split("Copyright")[0].strip()
    postgres = (
        "on" if os.environ.get(POSTGRES_URL_VARIABLE) else f"off ({POSTGRES_URL_VARIABLE} unset)"
    )
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {wrk}, PostgreSQL {postgres}"
    )


def describe_load() -> str:
    """Other processes share these cores; a busy machine lowers every figure."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"run only these: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}")
    started = time.monotonic()
    machine = describe_machine()
    print(machine)
    print(f"before: {describe_load()}", flush=True)
    summary: list[str] = []
    failed: list[str] = []
    for name in args.names or BENCHMARKS:
        print(flush=True)
        try:
            summary += importlib.import_module(f"bench.{name}").run()
        except Exception:
            # One broken benchmark should not hide the others' figures; make still fails.
            traceback.print_exc()
            failed.append(name)
            summary.append(row(name.replace("_", " "), "FAILED", "see the traceback above", ""))
        sys.stdout.flush()
    print(f"\n== summary ({machine}) ==")
    print(row("Benchmark", "Case", "Figure", "Context"))
    print(row("---", "---", "---", "---"))
    print("\n".join(summary))
    print(f"\n(benchmarks took {time.monotonic() - started:.0f} s; after: {describe_load()})")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
