"""Every table, imported in one place so migrations and tests see the whole schema."""

from backend.audit import AuditEvent
from backend.db import Base
from backend.jobs import Job
from backend.logistics.models import Shipment, TrackingEvent
from backend.notifications.outbox import Notification
from backend.orders.access import LookupAttempt, ShortLink
from backend.orders.address_changes import AddressChange
from backend.orders.intake import ChannelEvent
from backend.orders.inventory import ChannelSku, Reservation, Sku
from backend.orders.models import AddressVersion, Customer, Order, OrderLine
from backend.orders.reconciliation import ReconciliationReport
from backend.refunds.models import Refund, ReturnLine, ReturnRequest
from backend.refunds.service import ReturnPhoto
from backend.staff import StaffUser

metadata = Base.metadata

__all__ = [
    "AddressChange",
    "AddressVersion",
    "AuditEvent",
    "ChannelEvent",
    "ChannelSku",
    "Customer",
    "Job",
    "LookupAttempt",
    "Notification",
    "Order",
    "OrderLine",
    "ReconciliationReport",
    "Refund",
    "Reservation",
    "ReturnLine",
    "ReturnPhoto",
    "ReturnRequest",
    "Shipment",
    "ShortLink",
    "Sku",
    "StaffUser",
    "TrackingEvent",
    "metadata",
]
