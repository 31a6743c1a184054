"""Every table, imported in one place so migrations and tests see the whole schema."""

from backend.audit.models import AuditEvent
from backend.breaker_states import BreakerStateRow
from backend.db import Base
from backend.exchanges.models import Exchange
from backend.fulfilment.models import ShipConfirmationRecord
from backend.funnel import FunnelCount
from backend.goodwill.models import GoodwillRefund
from backend.invoices.models import InvoiceRequest
from backend.jobs.models import Job, WorkerSlot
from backend.logistics.models import ParcelLabel, Shipment, ShipmentLine, TrackingEvent
from backend.notifications.models import Notification, WeChatAccessToken, WeChatConsent
from backend.orders.models import (
    AddressChange,
    AddressVersion,
    ChannelEvent,
    ChannelSku,
    Customer,
    CustomerWechatId,
    LookupAttempt,
    Order,
    OrderLine,
    ReconciliationReport,
    Reservation,
    Shop,
    ShortLink,
    Sku,
    StockMovement,
    TransferProposal,
    Warehouse,
    WarehouseStock,
    WechatOAuthNonce,
)
from backend.refunds.models import (
    OrderCancellation,
    Refund,
    ReturnLine,
    ReturnPhoto,
    ReturnRequest,
)
from backend.robots.models import RobotAlert
from backend.rulebook.models import RuleVersion
from backend.staff.models import StaffSession, StaffUser
from backend.support.models import SupportRequest

metadata = Base.metadata

__all__ = [
    "AddressChange",
    "AddressVersion",
    "AuditEvent",
    "BreakerStateRow",
    "ChannelEvent",
    "ChannelSku",
    "Customer",
    "CustomerWechatId",
    "Exchange",
    "FunnelCount",
    "GoodwillRefund",
    "InvoiceRequest",
    "Job",
    "LookupAttempt",
    "Notification",
    "Order",
    "OrderCancellation",
    "OrderLine",
    "ParcelLabel",
    "ReconciliationReport",
    "Refund",
    "Reservation",
    "ReturnLine",
    "ReturnPhoto",
    "ReturnRequest",
    "RobotAlert",
    "RuleVersion",
    "ShipConfirmationRecord",
    "Shipment",
    "ShipmentLine",
    "Shop",
    "ShortLink",
    "Sku",
    "StaffSession",
    "StaffUser",
    "StockMovement",
    "SupportRequest",
    "TrackingEvent",
    "TransferProposal",
    "Warehouse",
    "WarehouseStock",
    "WeChatAccessToken",
    "WeChatConsent",
    "WechatOAuthNonce",
    "WorkerSlot",
    "metadata",
]
