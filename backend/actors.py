"""Who did something: every service call names its actor, and the audit trail keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.staff.models import Role


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
    # A staff actor's role, read from the staff row at the start of the request that acts
    # (StaffIdentity.actor()); services check it against the permission table. A staff
    # actor without one may do nothing that needs a permission.
    role: Role | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(ActorKind.SYSTEM, name, channel="worker")
