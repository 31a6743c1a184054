"""wrk, driven and read: its summary, a Lua script's own tallies, and the server's CPU time."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p99_ms: float
    requests: int
    bad_responses: int
    socket_errors: int
    server_cpu_seconds: float | None = None


@dataclass(frozen=True)
class ScriptRun:
    """One wrk run with a Lua script: the summary, p50, and the lines the script printed."""

    result: WrkResult
    p50_ms: float
    output: str

    def tally(self, pattern: re.Pattern[str]) -> tuple[int, ...]:
        """The numbers of the script's `done()` line, e.g. "acked 120 refused 0"."""
        found = pattern.search(self.output)
        if found is None:
            raise RuntimeError(f"cannot read the script's tally in wrk's output:\n{self.output}")
        return tuple(int(number) for number in found.groups())


def _latency_ms(output: str, percentile: str) -> float | None:
    found = re.search(
        rf"^\s*{percentile}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE
    )
    return float(found.group(1)) * UNITS_MS[found.group(2)] if found else None


def parse_wrk(output: str) -> WrkResult:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = _latency_ms(output, "99")
    total = re.search(r"(\d+) requests in", output)
    if not (rate and p99 is not None and total):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        p99_ms=p99,
        requests=int(total.group(1)),
        bad_responses=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_script(
    url: str,
    script: Path,
    seconds: int,
    server_pid: int,
    connections: int,
    start: int | None = None,
    grace_seconds: int = 30,
) -> ScriptRun:
    """wrk -t1 with `script`; `start` reaches the script's init() as its first argument."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    command.append(url)
    if start is not None:
        command += ["--", str(start)]
    cpu_before = process_cpu_seconds(server_pid)
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + grace_seconds, check=True
    )
    cpu_after = process_cpu_seconds(server_pid)
    result = parse_wrk(finished.stdout)
    if cpu_before is not None and cpu_after is not None:
        result = replace(result, server_cpu_seconds=cpu_after - cpu_before)
    p50 = _latency_ms(finished.stdout, "50")
    if p50 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{finished.stdout}")
    return ScriptRun(result, p50, finished.stdout)


def lua_string(raw: bytes | str) -> str:
    """A Lua string literal of the (UTF-8) bytes, every non-printable or non-ASCII byte escaped."""
    data = raw.encode() if isinstance(raw, str) else raw
    escaped = "".join(
        chr(byte) if 32 <= byte < 127 and byte not in b'"\\' else f"\\{byte:03d}" for byte in data
    )
    return f'"{escaped}"'
