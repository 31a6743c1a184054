"""The customer's order (tracking) page as a read model: three queries, masked, frozen.

Three however many parcels the order travels in: the order's head, its lines joined to the
parcel lines that carry them, and its shipments joined to their events. A fourth, the
order's 催发货 and messages with their replies, runs only for an order that has any: the
head counts them, so the many orders nobody wrote about stay at three.

It joins what several domains know about one order (the order and its address, its
shipments, address requests and returns), so it lives beside them, not inside one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased

from backend.db import BUILT_ONCE_OPTIONS, Database
from backend.exchanges.models import Exchange
from backend.goodwill.lifecycle import GoodwillStatus
from backend.goodwill.models import GoodwillRefund
from backend.logistics.models import Shipment
from backend.logistics.parcel_views import (
    LINES_WITH_PARCEL_LINES,
    ParcelItem,
    ParcelView,
    assemble_parcels,
)
from backend.logistics.shipment_views import ShipmentView, list_shipment_views
from backend.logistics.status import TrackingStatus
from backend.orders.access import SESSION_IS_CURRENT, CustomerSession, SessionEnded
from backend.orders.address_policy import AddressDecision, AddressFacts, AddressRules, decide
from backend.orders.lifecycle import OrderStatus
from backend.orders.masking import mask_name, mask_phone, mask_street
from backend.orders.models import (
    AddressChange,
    AddressVersion,
    ChangeKind,
    ChangeStatus,
    Order,
    SalesChannel,
)
from backend.refunds.models import OrderCancellation, ReturnRequest
from backend.support.lifecycle import RequestKind, RequestStatus
from backend.support.models import SupportRequest
from backend.support.service import RequestView, read_order_requests


class ProgressStep(StrEnum):
    PLACED = "placed"  # 下单
    PAID = "paid"  # 付款
    DISPATCHED = "dispatched"  # 出库
    IN_TRANSIT = "in_transit"  # 运输中
    OUT_FOR_DELIVERY = "out_for_delivery"  # 派送中
    DELIVERED = "delivered"  # 已签收


PROGRESS_STEPS: tuple[ProgressStep, ...] = tuple(ProgressStep)

_ORDER_STEP = {
    OrderStatus.PENDING_PAYMENT: ProgressStep.PLACED,
    OrderStatus.PAID: ProgressStep.PAID,
    OrderStatus.PICKING: ProgressStep.PAID,
    OrderStatus.PACKED: ProgressStep.PAID,
    OrderStatus.PARTIALLY_SHIPPED: ProgressStep.DISPATCHED,
    OrderStatus.SHIPPED: ProgressStep.DISPATCHED,
    OrderStatus.DELIVERED: ProgressStep.DELIVERED,
    OrderStatus.COMPLETED: ProgressStep.DELIVERED,
    OrderStatus.AFTER_SALE: ProgressStep.DELIVERED,
}

_SHIPMENT_STEP = {
    TrackingStatus.PICKED_UP: ProgressStep.IN_TRANSIT,
    TrackingStatus.IN_TRANSIT: ProgressStep.IN_TRANSIT,
    TrackingStatus.CUSTOMS: ProgressStep.IN_TRANSIT,
    TrackingStatus.EXCEPTION: ProgressStep.IN_TRANSIT,
    TrackingStatus.FAILED_ATTEMPT: ProgressStep.OUT_FOR_DELIVERY,
    TrackingStatus.OUT_FOR_DELIVERY: ProgressStep.OUT_FOR_DELIVERY,
    TrackingStatus.AVAILABLE_FOR_PICKUP: ProgressStep.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERED: ProgressStep.DELIVERED,
}


def progress_step(
    order_status: OrderStatus, parcel_statuses: Sequence[TrackingStatus] = ()
) -> ProgressStep:
    """Where the order stands on 下单 → 付款 → 出库 → 运输中 → 派送中 → 已签收.

    The order goes no further than its least advanced parcel, and a partly shipped order
    stays at 出库 (shown as 部分发货) however far its first parcels have got.
    """
    by_order = _ORDER_STEP.get(order_status, ProgressStep.PLACED)
    if order_status == OrderStatus.PARTIALLY_SHIPPED or not parcel_statuses:
        return by_order
    by_parcels = [_SHIPMENT_STEP.get(status) for status in parcel_statuses]
    if any(step is None for step in by_parcels):
        return by_order
    slowest = min((step for step in by_parcels if step), key=PROGRESS_STEPS.index)
    return max(by_order, slowest, key=PROGRESS_STEPS.index)


def region_of(province: str, city: str, district: str) -> str:
    """上海市 浦东新区, not 上海市 上海市 浦东新区: a municipality's city repeats its name."""
    parts = [province] + ([city] if city and city != province else []) + [district]
    return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class LineView:
    sku: str
    name: str
    quantity: int
    unit_price_fen: int

    @property
    def amount_fen(self) -> int:
        return self.quantity * self.unit_price_fen


@dataclass(frozen=True)
class TrackingView:
    order_id: int
    public_no: str
    channel: SalesChannel
    status: OrderStatus
    placed_at: datetime
    paid_at: datetime | None
    total_fen: int
    paid_fen: int
    recipient: str
    phone: str
    region: str
    street: str
    address_locked_at: datetime | None
    lines: tuple[LineView, ...]
    shipments: tuple[ShipmentView, ...]  # every shipment, returns and voided labels included
    parcels: tuple[ParcelView, ...]  # the outbound parcels that count, oldest first
    waiting: tuple[ParcelItem, ...]  # what no parcel carries yet (待发货)
    progress: ProgressStep
    requests: tuple[RequestView, ...] = ()  # 催发货 and messages, oldest first, with replies

    @property
    def partly_shipped(self) -> bool:
        return self.status == OrderStatus.PARTIALLY_SHIPPED

    @property
    def headline(self) -> OrderStatus | TrackingStatus:
        """A lone shipped parcel speaks for the order (运输中); otherwise the order's status."""
        if self.status == OrderStatus.SHIPPED and len(self.parcels) == 1:
            return self.parcels[0].shipment.status
        return self.status


_DECIDED = aliased(AddressChange, name="decided")
_CANCEL = aliased(OrderCancellation, name="cancellation")
_LATEST_DECIDED_ID = (
    select(AddressChange.id)
    .where(AddressChange.order_id == Order.id, AddressChange.decided_by.is_not(None))
    .order_by(AddressChange.decided_at.desc(), AddressChange.id.desc())
    .limit(1)
    .scalar_subquery()
)

# Built once: constructing a select() costs more than running it against SQLite.
_HEAD = (
    select(
        Order.id,
        Order.public_no,
        Order.channel,
        Order.status,
        Order.placed_at,
        Order.paid_at,
        Order.total_fen,
        Order.paid_fen,
        Order.address_locked_at,
        Order.packed_at,
        Order.updated_at,
        AddressVersion.recipient_name,
        AddressVersion.phone,
        AddressVersion.province,
        AddressVersion.city,
        AddressVersion.district,
        AddressVersion.street,
        Order.risk_flag,
        Order.customer_address_edits,
        select(func.max(Shipment.updated_at))
        .where(Shipment.order_id == Order.id)
        .scalar_subquery()
        .label("shipments_updated_at"),
        select(func.count(AddressChange.id))
        .where(
            AddressChange.order_id == Order.id,
            AddressChange.status == ChangeStatus.PENDING_APPROVAL,
        )
        .scalar_subquery()
        .label("requests_pending"),
        _DECIDED.status.label("decided_status"),
        _DECIDED.kind.label("decided_kind"),
        _DECIDED.reason.label("decided_reason"),
        select(func.max(ReturnRequest.id))
        .where(ReturnRequest.order_id == Order.id)
        .scalar_subquery()
        .label("latest_return_id"),
        select(func.max(ReturnRequest.updated_at))
        .where(ReturnRequest.order_id == Order.id)
        .scalar_subquery()
        .label("returns_updated_at"),
        # An exchange keeps its page reachable after the return window has closed.
        select(func.max(Exchange.id))
        .where(Exchange.order_id == Order.id)
        .scalar_subquery()
        .label("latest_exchange_id"),
        SESSION_IS_CURRENT.label("session_is_current"),
        Order.delivered_at,
        select(func.max(SupportRequest.reminder_day))
        .where(SupportRequest.order_id == Order.id)
        .scalar_subquery()
        .label("last_reminder_day"),
        select(func.count(SupportRequest.id))
        .where(
            SupportRequest.order_id == Order.id,
            SupportRequest.kind == RequestKind.MESSAGE,
            SupportRequest.status == RequestStatus.OPEN,
        )
        .scalar_subquery()
        .label("open_messages"),
        # A new request or a reply changes this, so a cached page is never stale about them.
        select(func.max(func.coalesce(SupportRequest.replied_at, SupportRequest.created_at)))
        .where(SupportRequest.order_id == Order.id)
        .scalar_subquery()
        .label("support_updated_at"),
        Order.payment_method,
        Order.customer_id,
        _CANCEL.path.label("cancel_path"),
        _CANCEL.status.label("cancel_status"),
        _CANCEL.refund_fen.label("cancel_refund_fen"),
        _CANCEL.updated_at.label("cancel_updated_at"),
        # 补偿 staff granted (or finance approved): a refund line on the customer's page.
        select(func.coalesce(func.sum(GoodwillRefund.amount_fen), 0))
        .where(
            GoodwillRefund.order_id == Order.id,
            GoodwillRefund.status == GoodwillStatus.PAYING,
        )
        .scalar_subquery()
        .label("goodwill_fen"),
    )
    .outerjoin(AddressVersion, AddressVersion.id == Order.current_address_id)
    .outerjoin(_DECIDED, _DECIDED.id == _LATEST_DECIDED_ID)
    .outerjoin(_CANCEL, _CANCEL.order_id == Order.id)
    .where(Order.public_no == bindparam("public_no"), Order.customer_id == bindparam("customer_id"))
)


@dataclass(frozen=True)
class RequestDecision:
    """The answer to the customer's latest address request (a change or a redirect)."""

    status: ChangeStatus  # APPLIED, REJECTED, or LOST_TO_LOCK (approved, but packed first)
    kind: ChangeKind
    reason: str | None  # staff's words to the customer, if any

    @property
    def approved(self) -> bool:
        return self.status == ChangeStatus.APPLIED


@dataclass(frozen=True)
class TrackingHead:
    """The first query of a tracking view: who may see it, and whether it changed."""

    order_id: int
    version: str
    row: Any

    def address_decision(self, now: datetime, rules: AddressRules) -> AddressDecision:
        """What the customer may do about the address right now (the backend's rules)."""
        facts = AddressFacts(
            status=OrderStatus(self.row.status),
            paid_at=self.row.paid_at,
            address_locked_at=self.row.address_locked_at,
            risk_flag=bool(self.row.risk_flag),
            customer_edits=self.row.customer_address_edits,
            request_pending=bool(self.row.requests_pending),
            packed_at=self.row.packed_at,
        )
        return decide(facts, now, rules)

    @property
    def has_requests(self) -> bool:
        return self.row.support_updated_at is not None

    @property
    def request_decision(self) -> RequestDecision | None:
        """None while no request was answered, and while a newer one awaits an answer."""
        if self.row.decided_status is None or self.row.requests_pending:
            return None
        return RequestDecision(
            ChangeStatus(self.row.decided_status),
            ChangeKind(self.row.decided_kind),
            self.row.decided_reason,
        )


def get_tracking_head(
    database: Database, public_no: str, customer: CustomerSession
) -> TrackingHead | None:
    """None both for a missing order and for someone else's: the caller answers 404 to both.

    Raises SessionEnded when the order is the customer's but their session was revoked.
    """
    if not (public_no.isascii() and public_no.isalnum()) or len(public_no) > 24:
        return None
    with database.read_statement() as connection:
        parameters = {"public_no": public_no, **customer.parameters()}
        row = connection.execute(_HEAD, parameters, execution_options=BUILT_ONCE_OPTIONS).first()
    if row is None:
        return None
    if not row.session_is_current:
        raise SessionEnded
    version = (
        f"{row.updated_at}|{row.shipments_updated_at}|{row.returns_updated_at}"
        f"|{row.support_updated_at}|{row.cancel_updated_at}|{row.latest_exchange_id}"
        f"|{row.goodwill_fen}"
    )
    return TrackingHead(row.id, version, row)


def complete_tracking_view(database: Database, head: TrackingHead) -> TrackingView:
    """The other two queries: lines with their parcel lines, and shipments with their events."""
    with database.engine.connect() as connection:
        line_rows = connection.execute(LINES_WITH_PARCEL_LINES, {"order_id": head.order_id}).all()
        shipments = list_shipment_views(connection, head.order_id)
        requests = read_order_requests(connection, head.order_id) if head.has_requests else ()
    row = head.row
    order_parcels = assemble_parcels(shipments, line_rows)
    lines = {
        line.id: LineView(line.sku, line.name, line.quantity, line.unit_price_fen)
        for line in line_rows
    }
    status = OrderStatus(row.status)
    has_address = row.recipient_name is not None
    return TrackingView(
        order_id=row.id,
        public_no=row.public_no,
        channel=SalesChannel(row.channel),
        status=status,
        placed_at=row.placed_at,
        paid_at=row.paid_at,
        total_fen=row.total_fen,
        paid_fen=row.paid_fen,
        recipient=mask_name(row.recipient_name) if has_address else "",
        phone=mask_phone(row.phone) if has_address else "",
        region=region_of(row.province, row.city, row.district) if has_address else "",
        street=mask_street(row.street) if has_address else "",
        address_locked_at=row.address_locked_at,
        lines=tuple(lines.values()),
        shipments=shipments,
        parcels=order_parcels.parcels,
        waiting=order_parcels.waiting,
        progress=progress_step(
            status, [parcel.shipment.status for parcel in order_parcels.parcels]
        ),
        requests=requests,
    )


def get_tracking_view(
    database: Database, public_no: str, customer: CustomerSession
) -> TrackingView | None:
    """The whole view in three queries; None for a missing order and for someone else's."""
    head = get_tracking_head(database, public_no, customer)
    return complete_tracking_view(database, head) if head is not None else None
