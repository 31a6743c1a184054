"""Notification tables: the outbox (one row per message), WeChat's shared token and consents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.personal_data import EncryptedJSON, EncryptedString


class NotificationEvent(StrEnum):
    ADDRESS_CHANGED = "address_changed"  # to the phone that was on the order before
    ADDRESS_REQUEST_APPROVED = "address_request_approved"
    ADDRESS_REQUEST_REJECTED = "address_request_rejected"
    REFUND_SUCCEEDED = "refund_succeeded"
    # The carrier could not intercept the parcel: the customer should refuse it (拒收).
    REFUSE_DELIVERY = "refuse_delivery"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"
    EXCHANGE_RELEASED = "exchange_released"  # 换货: the replacement may now ship


class Channel(StrEnum):
    SMS = "sms"
    WECHAT = "wechat"


class ChannelReason(StrEnum):
    """Why a message went (or goes) by its channel; shown to staff per message."""

    CONSENT_USED = "consent_used"  # the customer allowed this template: WeChat
    NO_CONSENT = "no_consent"
    CONSENT_REFUSED = "consent_refused"  # refused before this message was sent
    NO_OPENID = "no_openid"  # no openid for the app the template belongs to
    WECHAT_OFF = "wechat_off"  # no WeChat app, or no template for this event
    REFUSED_43101 = "refused_43101"  # WeChat answered 43101 to this message: SMS instead
    WECHAT_FAILED_TERMINAL = "wechat_failed_terminal"  # WeChat refused it otherwise: SMS
    WECHAT_RETRY = "wechat_retry"  # WeChat was unavailable; tried again later
    WECHAT_UNAVAILABLE = "wechat_unavailable"  # unavailable every time: SMS instead
    BOTH_CHANNELS = "both_channels"  # PORTAL_NOTIFY_BOTH_CHANNELS: the SMS beside WeChat
    LEGACY_TWIN = "legacy_twin"  # a WeChat row queued beside its SMS before migration 0024


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # the provider refused it for good (bad number, template, no grant)
    UNCERTAIN = "uncertain"  # it may have been sent; not retried, so nobody gets it twice
    SKIPPED = "skipped"  # the channel is not configured for this merchant


class Notification(Base):
    __tablename__ = "notifications"
    # The outbox backlog /metrics reads at every scrape: the unsent rows, by age.
    __table_args__ = (Index("ix_notifications_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    shipment_id: Mapped[int | None]
    event: Mapped[NotificationEvent] = mapped_column(EnumText(NotificationEvent, 30))
    channel: Mapped[Channel] = mapped_column(EnumText(Channel, 10))
    recipient: Mapped[str] = mapped_column(EncryptedString("notifications.recipient"))
    params: Mapped[dict[str, Any]] = mapped_column(
        EncryptedJSON("notifications.params"), default=dict
    )
    # Also the provider's OutId: short, because Aliyun's length limit is undocumented.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[NotificationStatus] = mapped_column(
        EnumText(NotificationStatus, 10), default=NotificationStatus.PENDING
    )
    # Security notices (the address was changed) are sent at night too.
    urgent: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    # The channel's choice: why `channel`, and for WeChat the app (whose openid is in
    # customer_wechat_ids) and template. `recipient` stays the phone an SMS would go to,
    # so a WeChat message that fails can still fall back to it.
    channel_reason: Mapped[ChannelReason | None] = mapped_column(EnumText(ChannelReason, 30))
    wechat_appid: Mapped[str | None] = mapped_column(String(32))
    wechat_template_id: Mapped[str | None] = mapped_column(String(128))
    wechat_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class WeChatAccessToken(Base):
    """The one access token of a WeChat app, shared by every process on every machine.

    WeChat wants one central holder of the token that everyone else reads from
    (docs/protocols.md, "WeChat subscribe messages / Shared access token"); the row is
    also the lock a refresher takes, so it exists before its first token does.
    """

    __tablename__ = "wechat_access_tokens"

    appid: Mapped[str] = mapped_column(String(32), primary_key=True)
    # WeChat asks for room for at least 512 characters.
    token: Mapped[str | None] = mapped_column(String(1024))
    # WeChat's own expiry; readers subtract their margin. Set to the past by invalidate().
    expires_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]


class ConsentKind(StrEnum):
    ONE_TIME = "one_time"  # each acceptance allows one message
    LONG_TERM = "long_term"  # 长期订阅: public-service categories only


class WeChatConsent(Base):
    """What one customer allowed one app to send with one template, and what is left of it."""

    __tablename__ = "wechat_consents"
    __table_args__ = (UniqueConstraint("customer_id", "appid", "template_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    appid: Mapped[str] = mapped_column(String(32))
    template_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[ConsentKind] = mapped_column(EnumText(ConsentKind, 10))
    # One-time acceptances not yet used by a send; unused for long-term consents.
    remaining: Mapped[int] = mapped_column(default=0)
    # A refusal (popup "reject", or 43101 from a send) stands until a new acceptance.
    refused_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WeChatJsapiTicket(Base):
    """The JS-SDK ticket of a 公众号, shared like its access token (one row per app).

    getticket's quota is small and each call may retire the previous ticket, so one
    process refreshes it under this row's lock and everyone else reads it (docs/protocols.md,
    "WeChat JS-SDK / Ticket").
    """

    __tablename__ = "wechat_jsapi_tickets"

    appid: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket: Mapped[str | None] = mapped_column(String(512))
    expires_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]
