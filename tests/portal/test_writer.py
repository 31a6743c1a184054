"""The writer queue: a request waits for it within its time, and gives up on a stuck one."""

from __future__ import annotations

import threading
import time

import anyio

from portal.calls import Writer, WriterBusy
from tests.portal.helpers import run_async


def test_a_queue_that_moves_is_served_within_the_request_time():
    writer, finished = Writer(1), []

    def job(number: int) -> None:
        time.sleep(0.05)
        finished.append(number)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for number in range(20):  # about 1 s of writes, each with 30 s to spare
                group.start_soon(writer.run, lambda n=number: job(n), 30.0)

    run_async(main)
    assert sorted(finished) == list(range(20))


def test_a_request_behind_a_stuck_write_gives_up_and_its_write_never_runs():
    writer, ran, release = Writer(1), [], threading.Event()

    def stuck() -> str:
        release.wait(timeout=60)
        return "stuck done"

    async def main() -> list[object]:
        outcomes: list[object] = []

        async def first() -> None:
            outcomes.append(await writer.run(stuck, 30.0))

        async def queued() -> None:
            try:
                await writer.run(lambda: ran.append("queued"), 0.5)
            except WriterBusy as busy:
                outcomes.append(busy)
            release.set()  # the stuck write ends only once the queued one has given up

        async with anyio.create_task_group() as group:
            group.start_soon(first)
            await anyio.sleep(0.2)
            group.start_soon(queued)
        outcomes.append(await writer.run(lambda: "the next write", 30.0))  # no slot leaked
        return outcomes

    outcomes = run_async(main)
    assert any(isinstance(o, WriterBusy) for o in outcomes)
    assert "stuck done" in outcomes
    assert outcomes[-1] == "the next write"
    assert ran == []
