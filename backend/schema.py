"""Every table, imported in one place so migrations and tests see the whole schema."""

from backend.audit.models import AuditEvent
from backend.db import Base
from backend.jobs.models import Job, WorkerSlot
from backend.logistics.models import ParcelLabel, Shipment, ShipmentLine, TrackingEvent
from backend.notifications.models import Notification
from backend.orders.models import (
    AddressChange,
    AddressVersion,
    ChannelEvent,
    ChannelSku,
    Customer,
    LookupAttempt,
    Order,
    OrderLine,
    ReconciliationReport,
    Reservation,
    ShortLink,
    Sku,
)
from backend.refunds.models import Refund, ReturnLine, ReturnPhoto, ReturnRequest
from backend.staff.models import StaffSession, StaffUser

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
    "ParcelLabel",
    "ReconciliationReport",
    "Refund",
    "Reservation",
    "ReturnLine",
    "ReturnPhoto",
    "ReturnRequest",
    "Shipment",
    "ShipmentLine",
    "ShortLink",
    "Sku",
    "StaffSession",
    "StaffUser",
    "TrackingEvent",
    "WorkerSlot",
    "metadata",
]
