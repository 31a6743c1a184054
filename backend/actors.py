"""Who did something: every service call names its actor, and the audit trail keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    SYSTEM = "system"
    CARRIER = "carrier"
    CHANNEL = "channel"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    identifier: str
    ip: str | None = None
    channel: str | None = None  # where the request came from: "sms-link", "admin", "worker", ...

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(ActorKind.SYSTEM, name, channel="worker")
