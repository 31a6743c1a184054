"""What every notification adapter shares: sender protocols, the send result, errors, HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

# Aliyun asks for a timeout of at least 1 s on SendSms (docs/protocols.md, "Aliyun SMS /
# SendSms"); a provider that hangs must still not hold a worker, so every call has a
# deadline.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message (acceptance, not delivery: receipts come later)."""

    provider: str
    idempotency_key: str  # our key, stored before the call (Aliyun OutId)
    message_id: str | None  # Aliyun BizId; WeChat msgid when the answer carries one
    request_id: str | None = None  # Aliyun RequestId, for support tickets


class NotificationError(Exception):
    """Base of the two outcomes a caller must tell apart: try again, or give up."""

    def __init__(
        self,
        provider: str,
        reason: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        label = code or (f"HTTP {status_code}" if status_code else "")
        super().__init__(f"{provider}: {label}: {reason}" if label else f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
        self.code = code  # the provider's raw code, kept as sent, never guessed
        self.status_code = status_code


class NotificationUnavailable(NotificationError):
    """Transport error, 5xx, throttling or a busy provider: worth trying again later.

    `maybe_sent` is True when the request may have reached the provider before the
    failure (a read timeout, a dropped connection). Aliyun SendSms is not idempotent
    (docs/protocols.md, "Aliyun SMS / SendSms"), so a blind retry of such a failure can
    text the customer twice.
    """

    def __init__(
        self,
        provider: str,
        reason: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(provider, reason, code=code, status_code=status_code)
        self.maybe_sent = maybe_sent


class NotificationRejected(NotificationError):
    """The provider (or our own validation) said no: bad template, phone, user refused..."""


class SmsSender(Protocol):
    """Sends one templated SMS to one mainland mobile number."""

    def send(
        self,
        phone: str,
        template_code: str,
        template_params: Mapping[str, str],
        out_id: str,
    ) -> SendResult:
        """`out_id` is our idempotency key; raises NotificationUnavailable / Rejected."""
        ...


class WeChatSender(Protocol):
    """Sends one mini-program subscribe message to one openid."""

    def send(
        self,
        openid: str,
        template_id: str,
        page: str | None,
        data: Mapping[str, str],
        idempotency_key: str,
    ) -> SendResult:
        """`data` maps template keywords ("thing1") to plain values; raises like SmsSender."""
        ...


def _is_retryable_status(status_code: int) -> bool:
    # 408 and 429 are 4xx but mean "not now", not "never".
    return status_code >= 500 or status_code in (408, 429)


def request(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    provider: str,
    timeout: httpx.Timeout,
    **kwargs: Any,
) -> httpx.Response:
    """One HTTP call; transport failures and retryable statuses become NotificationUnavailable."""
    try:
        response = http.request(method, url, timeout=timeout, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
        # Nothing left this process, so the provider cannot have acted on it.
        raise NotificationUnavailable(provider, f"could not connect: {error!r}") from error
    except httpx.TransportError as error:
        raise NotificationUnavailable(
            provider, f"transport error: {error!r}", maybe_sent=True
        ) from error
    if _is_retryable_status(response.status_code):
        raise NotificationUnavailable(
            provider, response.text[:200], status_code=response.status_code
        )
    return response


def json_object(response: httpx.Response, provider: str) -> Mapping[str, Any]:
    """The answer's JSON object; a non-JSON answer is classified by its status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    if response.status_code >= 400:
        raise NotificationRejected(provider, response.text[:200], status_code=response.status_code)
    # A 200 that is not a JSON object is usually a proxy or maintenance page: transient.
    raise NotificationUnavailable(
        provider, "answer is not a JSON object", status_code=response.status_code
    )
