"""The peak's processes: `portal serve --no-worker` and `portal worker --name`, started,
stopped by a signal and started again, each stop and start timed."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.push_callbacks import PROJECT_ROOT

# A loaded machine (other builds on the same two cores) has taken over a minute to import.
START_TIMEOUT_SECONDS = 180.0
# SIGTERM lets a web process drain its connections and a worker finish its job in hand.
STOP_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Restart:
    """One stop and start: how long the stop took, its exit status, how long the start took."""

    name: str
    how: str  # "SIGTERM" or "SIGKILL"
    at_seconds: float  # into the load
    stop_seconds: float
    exit_status: int | None
    start_seconds: float

    @property
    def clean(self) -> bool:
        """A SIGTERM must end in exit 0; a SIGKILL ends as killed, by definition."""
        if self.how == "SIGTERM":
            return self.exit_status == 0
        return self.exit_status == -signal.SIGKILL

    def describe(self) -> str:
        status = "never exited" if self.exit_status is None else f"exit {self.exit_status}"
        return (
            f"{self.name} {self.how} at {self.at_seconds:.0f} s: stopped in "
            f"{self.stop_seconds:.2f} s ({status}), up again in {self.start_seconds:.2f} s"
        )


@dataclass
class Member:
    """One process of the fleet: a web process on a port, or a named worker."""

    name: str
    command: list[str]
    environment: dict[str, str]
    log: Path
    port: int | None = None
    process: asyncio.subprocess.Process | None = None
    lives: int = 0
    restarts: list[Restart] = field(default_factory=list)

    async def start(self) -> float:
        """Start it and wait until it serves (web: /ping answers; worker: its slot is held)."""
        started = time.perf_counter()
        self.lives += 1
        log = self.log.open("ab")
        log.write(f"--- life {self.lives}\n".encode())
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            env=self.environment,
            cwd=PROJECT_ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if self.port is None else log,
            stderr=log,
        )
        if self.port is None:
            await self._wait_for_worker()
        else:
            await self._wait_for_ping()
        return time.perf_counter() - started

    async def _wait_for_ping(self) -> None:
        assert self.process is not None
        deadline = time.perf_counter() + START_TIMEOUT_SECONDS
        async with httpx.AsyncClient(timeout=1) as client:
            while time.perf_counter() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
                try:
                    answer = await client.get(f"http://127.0.0.1:{self.port}/ping")
                    if answer.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer /ping in {START_TIMEOUT_SECONDS:.0f} s")

    async def _wait_for_worker(self) -> None:
        """`portal worker` prints one line once its slot is taken and its thread runs."""
        assert self.process is not None and self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), START_TIMEOUT_SECONDS)
        if b"running" not in line:
            raise RuntimeError(f"{self.name} did not start: {line!r}")
        # The rest of its stdout is not read again: nothing else is printed there.

    async def stop(self, how: signal.Signals) -> tuple[float, int | None]:
        assert self.process is not None
        started = time.perf_counter()
        if self.process.returncode is None:
            self.process.send_signal(how)
        try:
            status = await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            return time.perf_counter() - started, None
        return time.perf_counter() - started, status

    async def restart(self, how: signal.Signals, at_seconds: float) -> Restart:
        stop_seconds, status = await self.stop(how)
        start_seconds = await self.start()
        restart = Restart(self.name, how.name, at_seconds, stop_seconds, status, start_seconds)
        self.restarts.append(restart)
        return restart


def portal_command(*arguments: str) -> list[str]:
    """The `portal` console script of this interpreter's environment."""
    return [sys.executable, "-m", "portal.cli", *arguments]


def web_member(name: str, port: int, environment: dict[str, str], directory: Path) -> Member:
    command = portal_command("serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port))
    return Member(name, command, environment, directory / f"{name}.log", port=port)


def worker_member(name: str, environment: dict[str, str], directory: Path) -> Member:
    command = portal_command("worker", "--name", name)
    return Member(name, command, environment, directory / f"{name}.log")


async def stop_all(members: list[Member]) -> None:
    """The end of the run: SIGTERM each, and wait."""
    for member in members:
        if member.process is not None and member.process.returncode is None:
            await member.stop(signal.SIGTERM)
