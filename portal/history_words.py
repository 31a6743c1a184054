"""The one timeline in the customer's words: a title for each kind of entry, and its state."""

from __future__ import annotations

from backend.logistics.status import TrackingStatus
from backend.notifications.models import Channel, NotificationEvent
from backend.order_history import HistoryEntry
from backend.refunds.rules import RefundType
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.labels import label

# One title per kind, or per (kind, state) where the state changes what happened.
_TITLES: dict[str | tuple[str, str], str] = {
    "placed": N_("Order placed"),
    "paid": N_("Payment received"),
    "packed": N_("Packed at the warehouse"),
    "shipped": N_("Shipped"),
    "delivered": N_("Order delivered"),
    "completed": N_("Order completed"),
    "cancelled": N_("Order cancelled"),
    ("address_requested", "edit"): N_("You asked to change the address"),
    ("address_requested", "intercept"): N_("You asked to redirect the parcel"),
    ("address_outcome", "applied"): N_("Address changed"),
    ("address_outcome", "rejected"): N_("Address change refused"),
    ("address_outcome", "lost_to_lock"): N_("Too late to change the address: already packed"),
    ("support_sent", "reminder"): N_("You reminded the shop to ship"),
    ("support_sent", "message"): N_("You wrote to customer service"),
    "support_replied": N_("Customer service replied"),
    "return_filed": N_("After-sale request sent"),
    ("return_decided", "approved"): N_("After-sale request approved"),
    ("return_decided", "rejected"): N_("After-sale request refused"),
    "return_parcel": N_("Return parcel sent"),
    "refund_paid": N_("Refund paid"),
    "invoice_requested": N_("You asked for an invoice"),
    "invoice_issued": N_("Invoice issued"),
    "invoice_rejected": N_("Invoice request refused"),
    "invoice_reversed": N_("Invoice reversed"),
    "cancel_requested": N_("You cancelled the order"),
    "exchange_requested": N_("You asked for an exchange"),
    ("exchange_closed", "done"): N_("Exchange completed"),
    ("exchange_closed", "cancelled"): N_("Exchange cancelled"),
    ("exchange_closed", "expired"): N_("Exchange expired: the item was not sent back in time"),
    ("notified", Channel.SMS.value): N_("We sent you an SMS"),
    ("notified", Channel.WECHAT.value): N_("We sent you a WeChat message"),
}
_UPDATE = N_("Order update")

# Which notice a message was: the customer may have had several the same minute.
_NOTICES: dict[str, str] = {
    NotificationEvent.SHIPPED: N_("Shipping notice"),
    NotificationEvent.OUT_FOR_DELIVERY: N_("Out-for-delivery notice"),
    NotificationEvent.AVAILABLE_FOR_PICKUP: N_("Ready-for-pickup notice"),
    NotificationEvent.DELIVERED: N_("Delivery notice"),
    NotificationEvent.FAILED_ATTEMPT: N_("Failed-delivery notice"),
    NotificationEvent.EXCEPTION: N_("Parcel problem notice"),
    NotificationEvent.ADDRESS_CHANGED: N_("Address change notice"),
    NotificationEvent.ADDRESS_REQUEST_APPROVED: N_("Address request approved notice"),
    NotificationEvent.ADDRESS_REQUEST_REJECTED: N_("Address request refused notice"),
    NotificationEvent.REFUND_SUCCEEDED: N_("Refund notice"),
}


def history_title(entry: HistoryEntry) -> str:
    """What happened, in the page's language; a carrier event says its tracking status."""
    if entry.kind == "carrier" and entry.state:
        return label(TrackingStatus(entry.state))
    key = entry.carrier_code if entry.kind == "notified" else entry.state
    words = _TITLES.get((entry.kind, key or "")) or _TITLES.get(entry.kind) or _UPDATE
    return _(words)


def history_kind_note(entry: HistoryEntry) -> str | None:
    """The sort of after-sale request (仅退款, 退货退款), or which notice we sent."""
    if entry.kind == "return_filed" and entry.state:
        return label(RefundType(entry.state))
    if entry.kind == "notified" and entry.state in _NOTICES:
        return _(_NOTICES[entry.state])
    return None
