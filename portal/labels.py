"""Words for the backend's enums, marked for translation; templates call `label(...)`.

Each enum has a table of its own: StrEnum members of different enums that share a value
are equal and hash alike ("cancelled" is an order status and a shipment status), so one
dict keyed by members would let the last enum listed overwrite the others' words.
"""

from __future__ import annotations

from enum import StrEnum

from backend.breaker import BreakerState
from backend.exchanges.lifecycle import ExchangeStatus
from backend.goodwill.lifecycle import GoodwillStatus
from backend.invoices.lifecycle import InvoiceStatus
from backend.logistics.alerts import AlertKind
from backend.logistics.carriers.names import carrier_name
from backend.logistics.status import TrackingStatus
from backend.notifications.models import Channel, ChannelReason
from backend.orders.holds import Team
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import (
    ChangeKind,
    ChangeStatus,
    HoldReason,
    ReservationState,
    SalesChannel,
    TransferStatus,
)
from backend.refunds.cancel_lifecycle import CancelStatus
from backend.refunds.in_transit_lifecycle import InTransitMethod, InTransitStatus
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.models import RefundState
from backend.refunds.rules import RefundType
from backend.refunds.views import Step
from backend.staff.models import Role
from backend.support.lifecycle import NoteKind, RequestKind, RequestStatus
from backend.tracking_page import ProgressStep
from portal.i18n import N_, current_locale, gettext

_ALL: tuple[tuple[StrEnum, str], ...] = (
    (ExchangeStatus.AWAITING_PARCEL, N_("Waiting for you to send the item back")),
    (ExchangeStatus.PARCEL_SENT, N_("Returned item on its way")),
    (ExchangeStatus.COLLECTED, N_("Courier has the returned item")),
    (ExchangeStatus.DONE, N_("Exchange complete")),
    (ExchangeStatus.CANCELLED, N_("Exchange cancelled")),
    (ExchangeStatus.EXPIRED, N_("Exchange expired: nothing was sent back in time")),
    (OrderStatus.PENDING_PAYMENT, N_("Awaiting payment")),
    (OrderStatus.PAID, N_("Paid")),
    (OrderStatus.PICKING, N_("Being picked")),
    (OrderStatus.PACKED, N_("Packed")),
    (OrderStatus.PARTIALLY_SHIPPED, N_("Partly shipped")),
    (OrderStatus.SHIPPED, N_("Shipped")),
    (OrderStatus.DELIVERED, N_("Delivered")),
    (OrderStatus.COMPLETED, N_("Completed")),
    (OrderStatus.AFTER_SALE, N_("After-sale in progress")),
    (OrderStatus.REFUNDED, N_("Refunded")),
    (OrderStatus.CANCELLED, N_("Cancelled")),
    (TrackingStatus.PENDING, N_("Waiting for carrier data")),
    (TrackingStatus.INFO_RECEIVED, N_("Label created")),
    (TrackingStatus.PICKED_UP, N_("Picked up")),
    (TrackingStatus.IN_TRANSIT, N_("In transit")),
    (TrackingStatus.CUSTOMS, N_("Customs")),
    (TrackingStatus.OUT_FOR_DELIVERY, N_("Out for delivery")),
    (TrackingStatus.AVAILABLE_FOR_PICKUP, N_("Ready for pickup")),
    (TrackingStatus.FAILED_ATTEMPT, N_("Delivery attempt failed")),
    (TrackingStatus.EXCEPTION, N_("Exception")),
    (TrackingStatus.RETURNING, N_("Returning to sender")),
    (TrackingStatus.RETURNED, N_("Returned to sender")),
    (TrackingStatus.DELIVERED, N_("Signed for")),
    (TrackingStatus.CANCELLED, N_("Shipment cancelled")),
    (TrackingStatus.EXPIRED, N_("Tracking expired")),
    (TrackingStatus.UNKNOWN, N_("Update")),
    (InTransitStatus.INTERCEPT_ASKED, N_("The carrier is asked to send it back")),
    (InTransitStatus.INTERCEPT_FAILED, N_("Our staff are contacting the carrier")),
    (InTransitStatus.REFUSE_ADVISED, N_("Please refuse the parcel when it arrives")),
    (InTransitStatus.RETURNING, N_("On its way back to us")),
    (InTransitStatus.REFUSED, N_("Refused at delivery")),
    (InTransitStatus.IN_REVIEW, N_("Being reviewed")),
    (InTransitStatus.REFUNDING, N_("Refund being paid")),
    (InTransitStatus.REFUNDED, N_("Refunded")),
    (InTransitStatus.REFUND_FAILED, N_("Refund failed; finance will pay it")),
    (InTransitStatus.REJECTED, N_("Not approved")),
    (InTransitStatus.CANCELLED, N_("Closed: the parcel was delivered")),
    (InTransitMethod.INTERCEPT, N_("Intercept and return (拦截退回)")),
    (InTransitMethod.REFUSE, N_("Refuse at delivery (拒收)")),
    (ProgressStep.PLACED, N_("Ordered")),
    (ProgressStep.PAID, N_("Payment")),
    (ProgressStep.DISPATCHED, N_("Dispatched")),
    (ProgressStep.IN_TRANSIT, N_("In transit")),
    # Step names are short: six of them share one line of a 320 px phone (see portal.css).
    (ProgressStep.OUT_FOR_DELIVERY, N_("Delivering")),
    (ProgressStep.DELIVERED, N_("Signed for")),
    (AlertKind.NOT_PICKED_UP, N_("Not picked up within 24 hours")),
    (AlertKind.STALLED, N_("No tracking update for 48 hours")),
    (AlertKind.PROBLEM, N_("Delivery problem")),
    (AlertKind.CARRIER_SILENT, N_("Carrier has gone silent")),
    (RefundType.REFUND_ONLY, N_("Refund only")),
    (RefundType.RETURN_AND_REFUND, N_("Return and refund")),
    (Step.SUBMITTED, N_("Submitted")),
    (Step.APPROVED, N_("Approved")),
    (Step.PARCEL, N_("Sent back")),
    (Step.RECEIVED, N_("Received")),
    (Step.REFUNDING, N_("Refunding")),
    (Step.REFUNDED, N_("Refunded")),
    # A return's headline: where it stands, in a few words.
    (InvoiceStatus.REQUESTED, N_("Invoice requested")),
    (InvoiceStatus.ISSUED, N_("Invoice issued")),
    (InvoiceStatus.REJECTED, N_("Invoice not issued")),
    (InvoiceStatus.REVERSAL_PENDING, N_("Red-letter reversal owed")),
    (InvoiceStatus.REVERSED, N_("Invoice reversed")),
    (ReturnStatus.IN_REVIEW, N_("Under review")),
    (ReturnStatus.APPROVED, N_("Approved")),
    (ReturnStatus.AWAITING_PARCEL, N_("Waiting for the item")),
    (ReturnStatus.PARCEL_IN_TRANSIT, N_("Item on its way back")),
    (ReturnStatus.RECEIVED, N_("Received at the warehouse")),
    (ReturnStatus.REFUNDING, N_("Refund in progress")),
    (ReturnStatus.REFUNDED, N_("Refund successful")),
    (ReturnStatus.REJECTED, N_("Not approved")),
    (ReturnStatus.REFUND_FAILED, N_("Refund delayed")),
    (Team.FINANCE, N_("Finance")),
    (Team.SUPPORT, N_("Customer service")),
    (Team.WAREHOUSE, N_("Warehouse")),
    (Team.OPERATIONS, N_("Operations")),
    (BreakerState.CLOSED, N_("Working")),
    (BreakerState.HALF_OPEN, N_("Trying again")),
    (BreakerState.OPEN, N_("Paused: calls stopped")),
    (Role.SUPPORT, N_("Customer service")),
    (Role.WAREHOUSE, N_("Warehouse")),
    (Role.FINANCE, N_("Finance")),
    (Role.SUPERVISOR, N_("Supervisor")),
    (Role.ADMIN, N_("Administrator")),
    (HoldReason.UNKNOWN_SKU, N_("Unknown SKU: map it in the SKU master")),
    (HoldReason.OUT_OF_STOCK, N_("Out of stock")),
    (HoldReason.DUPLICATE_SUSPECT, N_("Possible duplicate (待确认)")),
    (HoldReason.HIGH_VALUE, N_("High value: needs a second reviewer")),
    (HoldReason.BELOW_COST, N_("Priced below cost")),
    (HoldReason.AWAITING_RETURN, N_("Exchange: waiting for the returned item")),
    (ReservationState.RESERVED, N_("Reserved")),
    (ReservationState.RELEASED, N_("Released")),
    (ReservationState.COMMITTED, N_("Shipped from here")),
    (TransferStatus.PROPOSED, N_("Proposed")),
    (TransferStatus.ACCEPTED, N_("Accepted")),
    (TransferStatus.REJECTED, N_("Rejected")),
    (CancelStatus.REFUNDING, N_("Refunding")),
    (CancelStatus.REFUND_FAILED, N_("Refund failed")),
    (CancelStatus.DONE, N_("Done")),
    (GoodwillStatus.AWAITING_APPROVAL, N_("Waiting for finance")),
    (GoodwillStatus.PAYING, N_("Approved, being paid")),
    (GoodwillStatus.REJECTED, N_("Rejected")),
    (SalesChannel.TAOBAO, N_("Taobao")),
    (SalesChannel.TMALL, N_("Tmall")),
    (SalesChannel.JD, N_("JD")),
    (SalesChannel.PINDUODUO, N_("Pinduoduo")),
    (SalesChannel.DOUYIN, N_("Douyin")),
    (SalesChannel.WECHAT, N_("WeChat")),
    (SalesChannel.SHOPIFY, N_("Shopify")),
    (SalesChannel.OWN_SHOP, N_("Own shop")),
    (SalesChannel.MANUAL, N_("Manual order")),
    (Channel.SMS, N_("SMS")),
    (Channel.WECHAT, N_("WeChat")),
    # Why a message went by its channel, for staff reading an order's messages.
    (ChannelReason.CONSENT_USED, N_("Customer subscribed to WeChat notices")),
    (ChannelReason.NO_CONSENT, N_("No WeChat subscription")),
    (ChannelReason.CONSENT_REFUSED, N_("Customer declined WeChat notices")),
    (ChannelReason.NO_OPENID, N_("WeChat not linked")),
    (ChannelReason.WECHAT_OFF, N_("No WeChat template for this message")),
    (ChannelReason.REFUSED_43101, N_("WeChat refused (43101): sent by SMS")),
    (ChannelReason.WECHAT_FAILED_TERMINAL, N_("WeChat rejected it: sent by SMS")),
    (ChannelReason.WECHAT_RETRY, N_("WeChat unavailable: trying again")),
    (ChannelReason.WECHAT_UNAVAILABLE, N_("WeChat kept failing: sent by SMS")),
    (ChannelReason.BOTH_CHANNELS, N_("SMS sent alongside WeChat")),
    (ChannelReason.LEGACY_TWIN, N_("Older duplicate, not sent")),
    (NoteKind.NOTE, N_("Note")),
    (NoteKind.COMPLAINT, N_("Complaint")),
    (RequestKind.REMINDER, N_("Asked to ship (催发货)")),
    (RequestKind.MESSAGE, N_("Message")),
    (RequestStatus.OPEN, N_("Waiting for an answer")),
    (RequestStatus.ANSWERED, N_("Answered")),
    (ChangeKind.EDIT, N_("Address change")),
    (ChangeKind.INTERCEPT, N_("Redirect at the carrier (拦截改派)")),
    (ChangeStatus.AWAITING_CODE, N_("Waiting for the SMS code")),
    (ChangeStatus.PENDING_APPROVAL, N_("Waiting for approval")),
    (ChangeStatus.APPLIED, N_("Applied")),
    (ChangeStatus.REJECTED, N_("Rejected")),
    (ChangeStatus.LOST_TO_LOCK, N_("Too late: already packed")),
    (ChangeStatus.ABANDONED, N_("Abandoned")),
    (RefundState.STORED, N_("Stored")),
    (RefundState.PROCESSING, N_("Processing")),
    (RefundState.SUCCESS, N_("Paid back")),
    (RefundState.CLOSED, N_("Closed")),
    (RefundState.ABNORMAL, N_("Abnormal: finance acts")),
    (RefundState.FAILED, N_("Failed")),
)


def _by_enum(entries: tuple[tuple[StrEnum, str], ...]) -> dict[type[StrEnum], dict[str, str]]:
    tables: dict[type[StrEnum], dict[str, str]] = {}
    for member, words in entries:
        tables.setdefault(type(member), {})[member.value] = words
    return tables


_LABELS = _by_enum(_ALL)


def label(value: StrEnum) -> str:
    """The words for this member of this enum; a bare string has no enum and shows as is."""
    words = _LABELS.get(type(value), {}).get(str(value))
    return gettext(words) if words else str(value)


def carrier_label(code: str) -> str:
    """The carrier's name in the page's language (申通快递, STO Express)."""
    return carrier_name(code, current_locale())


_STUCK = N_("Past its time limit: %(status)s")


def cause_label(cause: str) -> str:
    """A queue item's cause: a hold reason, or "stuck:<order status>"."""
    if cause.startswith("stuck:"):
        return gettext(_STUCK) % {"status": label(OrderStatus(cause.removeprefix("stuck:")))}
    return label(HoldReason(cause))


def all_label_messages() -> list[str]:
    return [words for _, words in _ALL]
