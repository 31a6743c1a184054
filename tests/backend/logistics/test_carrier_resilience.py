"""Failure handling shared by carriers: the circuit breaker, retries, and HTTP classification."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from backend.logistics.carriers.base import (
    BreakerState,
    CarrierRejected,
    CarrierUnavailable,
    CircuitBreaker,
    CircuitOpen,
    MalformedPayload,
    RetryPolicy,
    call_with_retry,
    post_form,
)
from tests.backend.logistics.live_servers import serve


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("test", threshold=3, cool_down=30.0, clock=clock)


def test_the_breaker_stays_closed_below_the_threshold(breaker):
    breaker.record_failure()
    breaker.record_failure()
    breaker.before_call()
    assert breaker.state is BreakerState.CLOSED


def test_a_success_resets_the_count_of_failures_in_a_row(breaker):
    for outcome in ("fail", "fail", "ok", "fail", "fail"):
        breaker.record_failure() if outcome == "fail" else breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_the_breaker_opens_after_the_threshold_and_says_when_to_come_back(breaker, clock):
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    with pytest.raises(CircuitOpen) as raised:
        breaker.before_call()
    assert breaker.state is BreakerState.OPEN
    assert raised.value.retry_after == pytest.approx(20.0)
    assert isinstance(raised.value, CarrierUnavailable)  # the job queue retries it later


def test_after_the_cool_down_one_trial_call_goes_through(breaker, clock):
    for _ in range(3):
        breaker.record_failure()
    clock.now += 30
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # a second caller waits for the trial's outcome


def test_a_trial_that_never_reports_back_is_given_up_after_another_cool_down(breaker, clock):
    for _ in range(3):
        breaker.record_failure()
    clock.now += 30
    breaker.before_call()  # the trial goes out, and its caller dies without a word
    clock.now += 29
    with pytest.raises(CircuitOpen) as raised:
        breaker.before_call()
    assert raised.value.retry_after == pytest.approx(1.0)
    clock.now += 1
    breaker.before_call()


def test_a_successful_trial_closes_the_breaker(breaker, clock):
    for _ in range(3):
        breaker.record_failure()
    clock.now += 30
    breaker.before_call()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()
    breaker.before_call()


def test_a_failed_trial_opens_the_breaker_for_another_cool_down(breaker, clock):
    for _ in range(3):
        breaker.record_failure()
    clock.now += 30
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 29
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.now += 1
    assert breaker.state is BreakerState.HALF_OPEN


class Flaky:
    """Fails with the given errors in turn, then returns "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def unavailable() -> CarrierUnavailable:
    return CarrierUnavailable("test", "HTTP 503", 503)


def test_retry_returns_at_once_when_the_first_call_succeeds():
    sleeps: list[float] = []
    assert call_with_retry(Flaky(), sleep=sleeps.append) == "done"
    assert sleeps == []


def test_retry_backs_off_exponentially_on_retryable_errors():
    sleeps: list[float] = []
    operation = Flaky(unavailable(), unavailable())
    assert call_with_retry(operation, RetryPolicy(attempts=3), sleep=sleeps.append) == "done"
    assert sleeps == [0.5, 1.0] and operation.calls == 3


def test_retry_gives_up_after_its_attempts_with_the_last_error():
    sleeps: list[float] = []
    last = unavailable()
    operation = Flaky(unavailable(), unavailable(), last)
    with pytest.raises(CarrierUnavailable) as raised:
        call_with_retry(operation, RetryPolicy(attempts=3), sleep=sleeps.append)
    assert raised.value is last and len(sleeps) == 2


def test_retry_delays_are_capped():
    policy = RetryPolicy(attempts=6, base_delay=1.0, max_delay=4.0)
    assert [policy.delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 4.0, 4.0]


@pytest.mark.parametrize(
    "error",
    [
        CarrierRejected("test", "600", "不是合法的订阅者"),
        CircuitOpen("test", 30.0),
        MalformedPayload("no lastResult"),
    ],
)
def test_terminal_errors_and_open_circuits_are_not_retried(error):
    sleeps: list[float] = []
    operation = Flaky(error)
    with pytest.raises(type(error)):
        call_with_retry(operation, sleep=sleeps.append)
    assert operation.calls == 1 and sleeps == []


class Upstream:
    """A loopback server that answers with whatever status the path asks for."""

    def __init__(self) -> None:
        self.requests = 0
        self.app = Starlette(
            routes=[
                Route("/status/{code:int}", self.status, methods=["POST"]),
                Route("/html", self.html, methods=["POST"]),
                Route("/slow", self.slow, methods=["POST"]),
            ]
        )

    async def status(self, request: Request) -> Response:
        self.requests += 1
        form = await request.form()
        return JSONResponse({"echo": form.get("x")}, status_code=request.path_params["code"])

    async def html(self, request: Request) -> Response:
        return PlainTextResponse("<html>维护中</html>")

    async def slow(self, request: Request) -> Response:
        await asyncio.sleep(0.5)
        return JSONResponse({})


@pytest.fixture(scope="module")
def upstream_server():
    upstream = Upstream()
    with serve(upstream.app) as url:
        yield upstream, url


@pytest.fixture
def upstream(upstream_server) -> Upstream:
    upstream_server[0].requests = 0
    return upstream_server[0]


@pytest.fixture
def upstream_url(upstream_server) -> str:
    return upstream_server[1]


@pytest.fixture
def http():
    with httpx.Client() as client:
        yield client


def post(http, url, breaker, interpret=lambda body: body, timeout=None):
    options = {"timeout": timeout} if timeout else {}
    return post_form(http, url, {"x": "1"}, interpret, carrier="test", breaker=breaker, **options)


def test_a_2xx_answer_is_decoded_and_handed_to_interpret(http, upstream_url, breaker):
    assert post(http, f"{upstream_url}/status/200", breaker) == {"echo": "1"}


@pytest.mark.parametrize("code", [500, 502, 503, 504, 408, 429])
def test_5xx_and_not_now_answers_are_retryable(http, upstream_url, breaker, code):
    with pytest.raises(CarrierUnavailable) as raised:
        post(http, f"{upstream_url}/status/{code}", breaker)
    assert raised.value.status_code == code


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_4xx_answers_are_terminal_and_prove_the_carrier_is_up(http, upstream_url, breaker, code):
    breaker.record_failure()
    breaker.record_failure()
    with pytest.raises(CarrierRejected) as raised:
        post(http, f"{upstream_url}/status/{code}", breaker)
    assert raised.value.status_code == code
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED  # the 4xx reset the run of failures


def test_a_200_that_is_not_json_is_retryable(http, upstream_url, breaker):
    with pytest.raises(CarrierUnavailable):
        post(http, f"{upstream_url}/html", breaker)


def test_a_slow_carrier_hits_the_timeout_and_is_retryable(http, upstream_url, breaker):
    with pytest.raises(CarrierUnavailable, match="transport error"):
        post(http, f"{upstream_url}/slow", breaker, timeout=httpx.Timeout(0.1))


def test_a_closed_port_is_retryable(http, breaker):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CarrierUnavailable, match="transport error"):
        post(http, f"http://127.0.0.1:{port}/status/200", breaker)


def test_a_business_level_busy_answer_counts_against_the_breaker(http, upstream_url, breaker):
    def busy(body):
        raise CarrierUnavailable("test", "502 服务器繁忙")

    for _ in range(3):
        with pytest.raises(CarrierUnavailable):
            post(http, f"{upstream_url}/status/200", breaker, interpret=busy)
    assert breaker.state is BreakerState.OPEN


def test_an_open_breaker_sends_nothing(http, upstream, upstream_url, breaker):
    for _ in range(3):
        with pytest.raises(CarrierUnavailable):
            post(http, f"{upstream_url}/status/503", breaker)
    with pytest.raises(CircuitOpen):
        post(http, f"{upstream_url}/status/200", breaker)
    assert upstream.requests == 3


def test_retry_with_a_breaker_stops_at_the_open_circuit(http, upstream, upstream_url, breaker):
    sleeps: list[float] = []
    with pytest.raises(CircuitOpen):
        call_with_retry(
            lambda: post(http, f"{upstream_url}/status/503", breaker),
            RetryPolicy(attempts=10),
            sleep=sleeps.append,
        )
    assert upstream.requests == 3 and sleeps == [0.5, 1.0, 2.0]
