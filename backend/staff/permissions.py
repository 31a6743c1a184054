"""What each staff role may do: one permission per kind of power, checked by every service."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backend.actors import Actor, ActorKind
from backend.staff.models import Role


class Permission(StrEnum):
    VIEW_ORDERS = "view_orders"
    MANAGE_LINKS = "manage_links"
    SCAN_PARCELS = "scan_parcels"
    REVIEW_REFUNDS = "review_refunds"
    REVIEW_ADDRESSES = "review_addresses"
    MANAGE_STAFF = "manage_staff"
    RELEASE_HOLDS = "release_holds"  # approve an order intake held (value, duplicate, SKU ...)


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SUPPORT: frozenset(
        {P.VIEW_ORDERS, P.MANAGE_LINKS, P.REVIEW_REFUNDS, P.REVIEW_ADDRESSES, P.RELEASE_HOLDS}
    ),
    Role.WAREHOUSE: frozenset({P.VIEW_ORDERS, P.SCAN_PARCELS}),
    Role.FINANCE: frozenset({P.VIEW_ORDERS, P.REVIEW_REFUNDS, P.RELEASE_HOLDS}),
    Role.SUPERVISOR: frozenset(
        {
            P.VIEW_ORDERS,
            P.MANAGE_LINKS,
            P.SCAN_PARCELS,
            P.REVIEW_REFUNDS,
            P.REVIEW_ADDRESSES,
            P.RELEASE_HOLDS,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class StaffIdentity:
    id: int
    name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def actor(self, ip: str | None = None, channel: str = "admin") -> Actor:
        return Actor(ActorKind.STAFF, self.name, ip=ip, channel=channel)
