"""What every carrier adapter shares: protocols, the parsed update, errors, breaker, retry."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx

# BreakerState is re-exported: carrier code and tests read it from here.
from backend.breaker import Breaker, BreakerChange
from backend.breaker import BreakerState as BreakerState
from backend.clock import from_shanghai_wall_clock
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent

# China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact
# for every carrier timestamp we can receive and needs no tzdata on the host.

# Every outbound call has a deadline; a carrier that hangs must not hold a worker forever.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)

_T = TypeVar("_T")


class CarrierUnavailable(Exception):
    """The carrier could not answer (transport error, 5xx, busy): worth trying again later."""

    def __init__(self, carrier: str, reason: str, status_code: int | None = None) -> None:
        super().__init__(f"{carrier}: {reason}")
        self.carrier = carrier
        self.reason = reason
        self.status_code = status_code


class CircuitOpen(CarrierUnavailable):
    """Calls to this carrier are paused after repeated failures; retry after `retry_after` s."""

    def __init__(self, carrier: str, retry_after: float) -> None:
        super().__init__(carrier, f"circuit open, retry in {retry_after:.0f}s")
        self.retry_after = retry_after


class CarrierRejected(Exception):
    """The carrier answered and said no (4xx or a business refusal): retrying will not help."""

    def __init__(
        self, carrier: str, code: str | None, message: str, status_code: int | None = None
    ) -> None:
        super().__init__(f"{carrier}: {code or status_code}: {message}")
        self.carrier = carrier
        self.code = code
        self.message = message
        self.status_code = status_code


class MalformedPayload(ValueError):
    """A carrier payload that does not have the documented shape."""


@dataclass(frozen=True)
class ParsedPush:
    """A carrier's news about one waybill, from a push or a query, ready for the timeline.

    `full_history` says the events are the carrier's whole trajectory (Kuaidi100), so
    events it no longer lists may be dropped; incremental sources (SF push) set False.
    """

    carrier_code: str
    tracking_no: str
    events: list[CarrierEvent]
    full_history: bool
    source: str
    raw_state: str | None = None  # the carrier's shipment-level code, e.g. Kuaidi100 "501"
    state: TrackingStatus | None = None  # raw_state normalized, UNKNOWN when unmapped
    is_signed: bool = False  # Kuaidi100 `ischeck`
    monitor_status: str | None = None  # Kuaidi100 push: polling / shutdown / abort / updateall
    monitor_message: str = ""
    corrected_carrier_code: str | None = None  # Kuaidi100 `comNew` when it fixed our code
    order_reference: str | None = None  # SF `orderid`: sub/return waybills match by order

    @property
    def needs_resubscribe(self) -> bool:
        """Kuaidi100 gave up watching ("abort"); it asks for a new subscription after ~30 min."""
        return self.monitor_status == "abort"


@dataclass(frozen=True)
class Recipient:
    """The new receiver for an address change after shipment."""

    name: str
    mobile: str
    address: str  # the full printable address, province to house number
    company: str = ""


@dataclass(frozen=True)
class AddressChangeReceipt:
    """The carrier accepted the request; its outcome arrives later by callback."""

    carrier_code: str
    tracking_no: str
    message: str
    reference: str | None = None


class TrackingQuery(Protocol):
    """A source that can be asked for a waybill's trajectory."""

    source: str

    def query(self, company: str, tracking_no: str, *, phone: str | None = None) -> ParsedPush:
        """The current trajectory; raises CarrierUnavailable or CarrierRejected."""
        ...


class Carrier(TrackingQuery, Protocol):
    """A tracking provider that also pushes updates and relays address changes."""

    def subscribe(
        self,
        company: str,
        tracking_no: str,
        *,
        callback_url: str,
        phone: str | None = None,
        destination: str | None = None,
    ) -> bool:
        """Ask for pushes to `callback_url`; False when the waybill was already subscribed."""
        ...

    def request_address_change(
        self,
        company: str,
        tracking_no: str,
        recipient: Recipient,
        *,
        callback_url: str,
        reason: str = "",
        order_reference: str | None = None,
    ) -> AddressChangeReceipt:
        """Ask the carrier to redirect a parcel in transit."""
        ...

    def request_return_to_sender(
        self,
        company: str,
        tracking_no: str,
        *,
        callback_url: str,
        reason: str = "",
        order_reference: str | None = None,
    ) -> AddressChangeReceipt:
        """Ask the carrier to send a parcel in transit back to where it came from."""
        ...


def now_ms() -> int:
    return int(time.time() * 1000)


def load_json_object(payload: str | bytes | Mapping[str, Any], carrier: str) -> Mapping[str, Any]:
    """A payload that must be one JSON object; anything else is MalformedPayload."""
    if isinstance(payload, Mapping):
        return payload
    try:
        value = json.loads(payload)
    except ValueError as error:
        raise MalformedPayload(f"{carrier} payload is not JSON: {error}") from error
    if not isinstance(value, dict):
        raise MalformedPayload(f"{carrier} payload is not a JSON object")
    return value


def parse_china_time(text: str) -> datetime:
    """Carrier local time "YYYY-MM-DD HH:MM:SS" (Asia/Shanghai) as an aware UTC datetime."""
    try:
        local = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except (AttributeError, ValueError) as error:
        raise MalformedPayload(f"bad carrier time {text!r}") from error
    return from_shanghai_wall_clock(local)


class CircuitBreaker(Breaker):
    """A carrier's breaker: an open circuit raises CircuitOpen, a CarrierUnavailable."""

    def __init__(
        self,
        carrier: str,
        *,
        threshold: int = 5,
        cool_down: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerChange], None] | None = None,
    ) -> None:
        super().__init__(
            carrier, threshold=threshold, cool_down=cool_down, clock=clock, on_change=on_change
        )
        self.carrier = carrier

    def opened(self, retry_after: float) -> Exception:
        return CircuitOpen(self.carrier, retry_after)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for retryable errors: base, 2x base, 4x base ... capped."""

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, retry_number: int) -> float:
        return float(min(self.base_delay * 2**retry_number, self.max_delay))


def call_with_retry(
    operation: Callable[[], _T],
    policy: RetryPolicy = RetryPolicy(),  # frozen, so one shared default is safe
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """Run `operation`, retrying CarrierUnavailable only; rejections and open circuits pass up.

    An open circuit is not retried here: the breaker already knows the carrier is down,
    and the durable job queue is the right place to wait minutes rather than seconds.
    """
    for retry_number in range(policy.attempts):
        try:
            return operation()
        except CircuitOpen:
            raise
        except CarrierUnavailable:
            if retry_number + 1 >= policy.attempts:
                raise
            sleep(policy.delay(retry_number))
    raise AssertionError("unreachable: attempts must be at least 1")


def _is_retryable_status(status_code: int) -> bool:
    # 408 and 429 are 4xx but mean "not now", not "never": they are retried like a 5xx.
    return status_code >= 500 or status_code in (408, 429)


def post_form(
    http: httpx.Client,
    url: str,
    form: Mapping[str, str],
    interpret: Callable[[Mapping[str, Any]], _T],
    *,
    carrier: str,
    breaker: CircuitBreaker,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> _T:
    """POST a form and hand the decoded JSON to `interpret`, classifying every failure.

    A business-level "busy" (CarrierUnavailable from `interpret`) counts like a 5xx.
    """
    breaker.before_call()
    try:
        response = http.post(url, data=dict(form), timeout=timeout)
    except httpx.RequestError as error:  # connect, read, timeout, protocol, decoding
        breaker.record_failure()
        raise CarrierUnavailable(carrier, f"transport error: {error!r}") from error
    try:
        if _is_retryable_status(response.status_code):
            raise CarrierUnavailable(carrier, f"HTTP {response.status_code}", response.status_code)
        if response.status_code >= 400:
            raise CarrierRejected(carrier, None, response.text[:200], response.status_code)
        try:
            body = response.json()
        except ValueError as error:
            # A 200 that is not JSON is usually a proxy or maintenance page: transient.
            raise CarrierUnavailable(carrier, "answer is not JSON", response.status_code) from error
        result = interpret(load_json_object(body, carrier))
    except CarrierUnavailable:
        breaker.record_failure()
        raise
    except Exception:
        # Rejections and malformed answers prove the carrier is up.
        breaker.record_success()
        raise
    breaker.record_success()
    return result
