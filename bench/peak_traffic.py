"""The peak's clients: channels and a carrier that resend what was not acknowledged, and
customers opening their tracking pages; one asyncio loop with httpx, spread over the ports.

A delivery is sent at its kind's rate (open loop: a slow server makes a queue, not a
slower sender). What fails to connect, is cut off, times out or gets a non-2xx answer is
sent again after a pause, with the same body and the same event id, as Shopify, Taobao's
message push and Kuaidi100 do; it goes to the next port, as a load balancer would send it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRY_PAUSE_SECONDS = 1.0
MOST_ATTEMPTS = 30
REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Delivery:
    """One signed POST a channel or carrier makes until it is acknowledged."""

    kind: str
    key: str  # what names it in the checks: an event id, a tid, a push's waybill and size
    path: str
    content: bytes
    headers: dict[str, str]
    is_ack: Callable[[httpx.Response], bool]


@dataclass(frozen=True)
class PageVisit:
    """A customer's way in (an SMS short code or a signed link) and the page it opens."""

    link: str  # /t/<code> or /o/<token>
    page: str  # /orders/<public_no>
    public_no: str


@dataclass
class Tally:
    """What one kind of traffic saw."""

    latencies_ms: list[float] = field(default_factory=list)  # of the acknowledged answers
    ack_times: list[float] = field(default_factory=list)  # seconds into the load
    errors: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    acked: set[str] = field(default_factory=set)
    given_up: set[str] = field(default_factory=set)


def error_kind(error: Exception) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection refused"
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "connection dropped"
    return type(error).__name__


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


class Traffic:
    """The load: `run()` sends everything, keeps resending until acknowledged, then returns."""

    def __init__(self, ports: list[int], started: float) -> None:
        self.ports = ports
        self.started = started
        self.tallies: dict[str, Tally] = {}
        # When the load stops; pushed back while a restart is still under way.
        self.stop_at = 0.0
        self._ports = itertools.cycle(ports)
        self._pending: set[asyncio.Task[None]] = set()

    def tally(self, kind: str) -> Tally:
        return self.tallies.setdefault(kind, Tally())

    def _base(self) -> str:
        return f"http://127.0.0.1:{next(self._ports)}"

    def now(self) -> float:
        return time.perf_counter() - self.started

    async def _send(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        """One delivery, again and again until acknowledged (or MOST_ATTEMPTS)."""
        tally = self.tally(delivery.kind)
        for _attempt in range(MOST_ATTEMPTS):
            tally.attempts += 1
            sent = time.perf_counter()
            try:
                answer = await client.post(
                    self._base() + delivery.path, content=delivery.content, headers=delivery.headers
                )
            except httpx.TransportError as error:
                tally.errors[error_kind(error)] += 1
            else:
                if delivery.is_ack(answer):
                    tally.latencies_ms.append((time.perf_counter() - sent) * 1000)
                    tally.ack_times.append(self.now())
                    tally.acked.add(delivery.key)
                    return
                tally.errors[f"HTTP {answer.status_code}"] += 1
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
        tally.given_up.add(delivery.key)

    async def send_at_rate(
        self,
        client: httpx.AsyncClient,
        deliveries: list[Delivery],
        rate: float,
        *,
        repeat: bool = False,
    ) -> None:
        """Start one delivery every 1/rate s until `stop_at` (or none is left); each runs alone.

        `repeat` starts the list again once sent, as a carrier pushes a full history again."""
        sequence = itertools.cycle(deliveries) if repeat else iter(deliveries)
        for index, delivery in enumerate(sequence):
            due = index / rate
            if due >= self.stop_at:
                break
            await asyncio.sleep(max(due - self.now(), 0))
            task = asyncio.create_task(self._send(client, delivery))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def visit_pages(self, visits: list[PageVisit], customers: int) -> None:
        """`customers` phones at once, each opening a link, then its page, then the next."""
        queue = itertools.cycle(visits)
        await asyncio.gather(*(self._customer(queue) for _ in range(customers)))

    async def _customer(self, visits: itertools.cycle[PageVisit]) -> None:
        link_tally, page_tally = self.tally("link"), self.tally("tracking page")
        timeout = httpx.Timeout(REQUEST_TIMEOUT_SECONDS)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as browser:
            while self.now() < self.stop_at:
                visit = next(visits)
                browser.cookies.clear()  # a new customer, a new browser
                base = self._base()
                entered = await self._get(browser, base + visit.link, link_tally, 303)
                if entered is None:
                    await asyncio.sleep(RETRY_PAUSE_SECONDS)
                    continue
                page = await self._get(browser, base + visit.page, page_tally, 200)
                if page is not None and visit.public_no not in page.text:
                    page_tally.errors["page without its order number"] += 1

    async def _get(
        self, browser: httpx.AsyncClient, url: str, tally: Tally, expected: int
    ) -> httpx.Response | None:
        tally.attempts += 1
        sent = time.perf_counter()
        try:
            answer = await browser.get(url)
        except httpx.TransportError as error:
            tally.errors[error_kind(error)] += 1
            return None
        if answer.status_code != expected:
            tally.errors[f"HTTP {answer.status_code}"] += 1
            return None
        tally.latencies_ms.append((time.perf_counter() - sent) * 1000)
        tally.ack_times.append(self.now())
        return answer

    async def settle(self, deadline: float) -> int:
        """Wait for the deliveries still being resent; how many were still going at `deadline`."""
        while self._pending and self.now() < deadline:
            await asyncio.sleep(0.2)
        for task in list(self._pending):
            task.cancel()
        return len(self._pending)


def post_client(connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(timeout=httpx.Timeout(REQUEST_TIMEOUT_SECONDS), limits=limits)


def json_says(answer: httpx.Response, name: str) -> bool:
    if answer.status_code != 200:
        return False
    try:
        body: Any = answer.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get(name) is True
