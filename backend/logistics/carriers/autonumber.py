"""Kuaidi100 智能单号识别 (autonumber): which carriers Kuaidi100 thinks a number is from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from backend.logistics.carriers.base import (
    DEFAULT_TIMEOUT,
    CarrierRejected,
    CarrierUnavailable,
    CircuitBreaker,
    MalformedPayload,
)

SOURCE = "kuaidi100"
AUTONUMBER_URL = "https://www.kuaidi100.com/autonumber/auto"


@dataclass(frozen=True)
class CarrierGuess:
    carrier_code: str
    name: str


def build_autonumber_request(key: str, number: str) -> dict[str, str]:
    """Form fields for POST /autonumber/auto; this call carries no sign, only the key."""
    return {"key": key, "num": number.strip()}


def parse_autonumber_response(body: Any) -> list[CarrierGuess]:
    """The candidates, most likely first (docs/protocols.md, "Carrier number recognition /
    Kuaidi100 autonumber"). 201 "not a valid number" is an empty answer, not an error."""
    if isinstance(body, dict):
        code = str(body.get("returnCode") or "")
        if code == "201":
            return []
        raise CarrierRejected(SOURCE, code or None, str(body.get("message") or ""))
    if not isinstance(body, list):
        raise MalformedPayload("kuaidi100 autonumber answer is neither a list nor an error")
    guesses = []
    for item in body:
        if not isinstance(item, dict) or not item.get("comCode"):
            raise MalformedPayload("kuaidi100 autonumber item without comCode")
        guesses.append(CarrierGuess(str(item["comCode"]), str(item.get("name") or "")))
    return guesses


def codes_of(guesses: Sequence[CarrierGuess]) -> list[str]:
    return [guess.carrier_code for guess in guesses]


class AutonumberClient:
    """The HTTP side; its answer is a JSON array, so it does not go through post_form."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        key: str,
        url: str = AUTONUMBER_URL,
        breaker: CircuitBreaker | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._http, self._key, self._url = http, key, url
        self.breaker = breaker or CircuitBreaker("kuaidi100-autonumber")
        self._timeout = timeout

    def guess(self, number: str) -> list[CarrierGuess]:
        self.breaker.before_call()
        try:
            response = self._http.post(
                self._url, data=build_autonumber_request(self._key, number), timeout=self._timeout
            )
        except httpx.RequestError as error:
            self.breaker.record_failure()
            raise CarrierUnavailable(SOURCE, f"transport error: {error!r}") from error
        if response.status_code >= 500:
            self.breaker.record_failure()
            raise CarrierUnavailable(SOURCE, f"HTTP {response.status_code}", response.status_code)
        self.breaker.record_success()
        if response.status_code >= 400:
            raise CarrierRejected(SOURCE, None, response.text[:200], response.status_code)
        try:
            body = response.json()
        except ValueError as error:
            raise CarrierUnavailable(SOURCE, "answer is not JSON") from error
        return parse_autonumber_response(body)
