"""What each staff role may do: one permission per kind of power, checked by every service."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from backend.actors import Actor, ActorKind
from backend.staff.models import Role


class Permission(StrEnum):
    VIEW_ORDERS = "view_orders"  # search orders, open the order page, operations, exceptions
    MANAGE_LINKS = "manage_links"  # issue a customer's SMS link, revoke every link of an order
    SCAN_PARCELS = "scan_parcels"  # pack scan, label reprint, returned parcels in, inspection
    REVIEW_REFUNDS = "review_refunds"  # approve (in full or in part) or reject a return
    REVIEW_ADDRESSES = "review_addresses"  # approve or reject address and redirect requests
    MANAGE_STAFF = "manage_staff"  # add staff, change roles, disable accounts
    RELEASE_HOLDS = "release_holds"  # approve an order intake held (value, duplicate, SKU ...)
    MANAGE_SKUS = "manage_skus"  # the SKU master: add SKUs, count stock, map channel SKU ids
    ALLOCATE_STOCK = "allocate_stock"  # move an order to another warehouse, accept transfers
    VIEW_COSTS = "view_costs"  # see unit costs, and set them (a SKU save that changes a cost)
    IMPORT_ORDERS = "import_orders"  # create orders from a CSV/Excel file of hand-taken orders
    RECONCILE_CHANNELS = "reconcile_channels"  # compare a channel's export with our orders
    EXPORT_FINANCE = "export_finance"  # download the monthly finance CSV (every order's money)
    MANAGE_JOBS = "manage_jobs"  # see dead background jobs and send them to run again
    RECORD_WAYBILLS = "record_waybills"  # record a waybill by hand or from a file, void a label
    # see ship confirmations a sales channel refused, and send them again once fixed
    CONFIRM_SHIPMENTS = "confirm_shipments"
    ISSUE_INVOICES = "issue_invoices"  # the invoice queue: upload the PDF, reject, record 红冲
    ANSWER_CUSTOMERS = "answer_customers"  # reply to a customer's 催发货 or message on the order
    # see one order's full phone and street, with a reason that goes into the audit
    REVEAL_PERSONAL_DATA = "reveal_personal_data"
    CANCEL_ORDERS = "cancel_orders"  # cancel an order from the staff order page (refunds it)
    GRANT_GOODWILL = "grant_goodwill"  # 补偿: refund a goodwill amount (up to the limit at once)
    APPROVE_GOODWILL = "approve_goodwill"  # approve or reject a goodwill refund above the limit
    # the customer page (客户360): every order, return, refund, message and note of a customer
    VIEW_CUSTOMERS = "view_customers"
    # the rules page: refund thresholds, address window, high value, costs; versioned, audited
    MANAGE_RULES = "manage_rules"


P = Permission
# A small merchant's team. Support answers customers: links, refunds, addresses, the orders
# they take by phone or WeChat (import), and duplicate holds. The warehouse packs, counts
# stock, maps channel SKUs and decides which warehouse ships (and transfers), but never
# sees costs. Finance owns the money: costs (so also
# the SKU page they sit on), reconciliation, the finance CSV, refunds, high-value holds
# and invoices (发票 are money owed to the tax office, so not support's).
# Support and the supervisor may cancel an order for the customer (it refunds the
# payment through the cancel service); finance refunds returns but does not stop orders.
# The supervisor leads support and the warehouse, without costs, finance exports or staff.
# A channel refusing a waybill is the warehouse's to fix (wrong carrier, wrong number).
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SUPPORT: frozenset(
        {
            P.VIEW_ORDERS,
            P.VIEW_CUSTOMERS,
            P.MANAGE_LINKS,
            P.REVIEW_REFUNDS,
            P.REVIEW_ADDRESSES,
            P.RELEASE_HOLDS,
            P.IMPORT_ORDERS,
            P.ANSWER_CUSTOMERS,
            P.REVEAL_PERSONAL_DATA,
            P.CANCEL_ORDERS,
            P.GRANT_GOODWILL,
        }
    ),
    Role.WAREHOUSE: frozenset(
        {
            P.VIEW_ORDERS,
            P.SCAN_PARCELS,
            P.MANAGE_SKUS,
            P.RECORD_WAYBILLS,
            P.ALLOCATE_STOCK,
            P.CONFIRM_SHIPMENTS,
        }
    ),
    Role.FINANCE: frozenset(
        {
            P.VIEW_ORDERS,
            P.VIEW_CUSTOMERS,
            P.REVIEW_REFUNDS,
            P.RELEASE_HOLDS,
            P.MANAGE_SKUS,
            P.VIEW_COSTS,
            P.RECONCILE_CHANNELS,
            P.EXPORT_FINANCE,
            P.ISSUE_INVOICES,
            P.APPROVE_GOODWILL,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            P.VIEW_ORDERS,
            P.MANAGE_RULES,
            P.VIEW_CUSTOMERS,
            P.MANAGE_LINKS,
            P.SCAN_PARCELS,
            P.REVIEW_REFUNDS,
            P.REVIEW_ADDRESSES,
            P.RELEASE_HOLDS,
            P.IMPORT_ORDERS,
            P.MANAGE_SKUS,
            P.ALLOCATE_STOCK,
            P.RECONCILE_CHANNELS,
            P.MANAGE_JOBS,
            P.RECORD_WAYBILLS,
            P.CONFIRM_SHIPMENTS,
            P.ANSWER_CUSTOMERS,
            P.REVEAL_PERSONAL_DATA,
            P.CANCEL_ORDERS,
            P.GRANT_GOODWILL,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


def scoped_warehouse(role: Role | None, warehouse_id: int | None) -> int | None:
    """The warehouse a member is confined to (warehouse logins only), or None: every order."""
    return warehouse_id if role == Role.WAREHOUSE else None


class PermissionDenied(Exception):
    """The actor may not do this: a staff role without the permission, or not staff at all."""

    def __init__(self, actor: Actor, permission: Permission) -> None:
        super().__init__(f"{actor.kind}:{actor.identifier} lacks {permission}")
        self.actor, self.permission = actor, permission


def has_permission(role: Role | None, permission: Permission) -> bool:
    return role is not None and permission in ROLE_PERMISSIONS.get(role, frozenset())


def check_permission(
    actor: Actor, permission: Permission, *, also: Collection[ActorKind] = ()
) -> None:
    """Staff need the permission in their role; other actors only the kinds a service names.

    The role travels on the actor (StaffIdentity.actor()) rather than being read again
    here: the portal reads the staff row on every request before it acts (require_staff),
    so the role is current to the request, and a service stays one transaction on its
    own tables. A staff actor without a role, or an actor of a kind not named, fails closed.
    """
    if actor.kind == ActorKind.STAFF:
        allowed = has_permission(actor.role, permission)
    else:
        allowed = actor.kind in also
    if not allowed:
        raise PermissionDenied(actor, permission)


@dataclass(frozen=True)
class StaffIdentity:
    id: int
    name: str
    role: Role
    # Set for a warehouse login tied to one warehouse: it sees only that warehouse's orders
    # (backend/warehouse_logins.py). None: every order.
    warehouse_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return has_permission(self.role, permission)

    def actor(self, ip: str | None = None, channel: str = "admin") -> Actor:
        return Actor(ActorKind.STAFF, self.name, ip=ip, channel=channel, role=self.role)
