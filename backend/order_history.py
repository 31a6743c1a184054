"""The customer's one timeline of an order: everything that happened to it, newest first.

Each source (an order milestone, a parcel's carrier events, an address request, a return,
a refund, a message, an invoice, a notification we sent) is one reader: a SELECT of the
same eight columns for one order. The readers are combined with UNION ALL and read a page
at a time in one query, ordered by (at, source, row id) descending, which is also the
cursor: equal timestamps never duplicate or drop a row between pages.

Adding a source is one function and one line in `READERS` (a new source number, never a
reused one: a cursor a customer holds names it). It lives beside the domains it reads,
like backend/tracking_page.py, because it joins them all. Audit events are not read: they
carry staff identities, IPs and internal before/after values; the order's own milestone
columns and each domain's rows say the same things in customer-safe form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from backend.db import Database, UTCDateTime
from backend.exchanges.models import Exchange
from backend.invoices.lifecycle import InvoiceStatus
from backend.invoices.models import InvoiceRequest
from backend.logistics.models import Shipment, ShipmentDirection, TrackingEvent
from backend.notifications.models import Channel, Notification, NotificationStatus
from backend.orders.masking import mask_name, mask_phone
from backend.orders.models import AddressChange, ChangeStatus, Order, Sku
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.models import OrderCancellation, Refund, RefundState, ReturnRequest
from backend.support.models import SupportRequest

PAGE_SIZE = 20

ORDER_ID = bindparam("order_id", type_=Integer)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_LARGEST_ROW_ID = 2**31 - 1


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the next page holds only entries strictly older than this one."""

    at: datetime
    source: int
    row_id: int

    def encode(self) -> str:
        """Whole microseconds since 1970: a float would round the tie a cursor must keep."""
        return f"{(self.at - _EPOCH) // _MICROSECOND}_{self.source}_{self.row_id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """None for anything that is not a cursor we wrote: the page starts from the newest."""
        parts = (text or "").split("_")
        if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
            return None
        # Row ids are PostgreSQL INTEGERs: a larger bound value fails the query, not the page.
        if len(parts[0]) > 17 or len(parts[1]) > 4 or int(parts[2]) > _LARGEST_ROW_ID:
            return None
        at = _EPOCH + int(parts[0]) * _MICROSECOND
        return cls(at, int(parts[1]), int(parts[2]))


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the timeline; `kind` plus `state` is what the portal puts into words."""

    at: datetime
    source: int
    row_id: int
    kind: str
    state: str | None  # the status or sort the source reports (a tracking status, 已同意 ...)
    detail: str | None  # customer-safe text: carrier's words, a message, a masked recipient
    carrier_code: str | None
    tracking_no: str | None
    amount_fen: int | None

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, self.source, self.row_id)


@dataclass(frozen=True)
class HistoryPage:
    entries: tuple[HistoryEntry, ...]
    next_cursor: Cursor | None  # None on the last page


def _columns(
    at: Any,
    row_id: Any,
    state: Any = None,
    detail: Any = None,
    carrier_code: Any = None,
    tracking_no: Any = None,
    amount_fen: Any = None,
) -> list[ColumnElement[Any]]:
    """The eight columns every reader returns (source is added by `_union`), typed alike.

    A missing column is a NULL cast in SQL (PostgreSQL wants a type for a NULL in a UNION);
    a present one is only retyped in Python, because SQLite's CAST(... AS DATETIME) would
    turn a stored time into a number. Enum columns come back as their plain text.
    """

    def text(value: ColumnElement[Any] | None) -> ColumnElement[Any]:
        return cast(null(), String) if value is None else type_coerce(value, String)

    return [
        type_coerce(at, UTCDateTime()).label("at"),
        type_coerce(row_id, Integer).label("row_id"),
        text(state).label("state"),
        text(detail).label("detail"),
        text(carrier_code).label("carrier_code"),
        text(tracking_no).label("tracking_no"),
        (cast(null(), Integer) if amount_fen is None else amount_fen).label("amount_fen"),
    ]


def _milestone(column: Any) -> Callable[[], Select[tuple[object, ...]]]:
    def read() -> Select[tuple[object, ...]]:
        return select(*_columns(column, Order.id)).where(Order.id == ORDER_ID, column.is_not(None))

    return read


def read_carrier_events() -> Select[tuple[object, ...]]:
    """Outbound and return parcels alike; as on the tracking page, no future-dated event and
    nothing of a voided label."""
    return (
        select(
            *_columns(
                TrackingEvent.occurred_at,
                TrackingEvent.id,
                state=TrackingEvent.status,
                detail=TrackingEvent.description,
                carrier_code=Shipment.carrier_code,
                tracking_no=Shipment.tracking_no,
            )
        )
        .join(Shipment, Shipment.id == TrackingEvent.shipment_id)
        .where(
            Shipment.order_id == ORDER_ID,
            Shipment.voided_at.is_(None),
            TrackingEvent.future_dated.is_(False),
        )
    )


def read_return_parcels_sent() -> Select[tuple[object, ...]]:
    """The customer's own 退货 parcel, from when its waybill was entered."""
    return select(
        *_columns(
            Shipment.created_at,
            Shipment.id,
            carrier_code=Shipment.carrier_code,
            tracking_no=Shipment.tracking_no,
        )
    ).where(
        Shipment.order_id == ORDER_ID,
        Shipment.direction == ShipmentDirection.RETURN,
        Shipment.voided_at.is_(None),
    )


def read_address_requests() -> Select[tuple[object, ...]]:
    """A request the customer sent to customer service; the new recipient's name, masked in
    `_present`."""
    return select(
        *_columns(
            AddressChange.created_at,
            AddressChange.id,
            state=AddressChange.kind,
            detail=AddressChange.recipient_name,
        )
    ).where(
        AddressChange.order_id == ORDER_ID,
        # Waiting for, or answered by, customer service; a free edit is one event, the
        # change itself (its outcome, below).
        or_(
            AddressChange.status == ChangeStatus.PENDING_APPROVAL,
            AddressChange.decided_by.is_not(None),
        ),
    )


def read_address_outcomes() -> Select[tuple[object, ...]]:
    """Applied, refused (with staff's words to the customer) or lost to the pack scan."""
    return select(
        *_columns(
            AddressChange.decided_at,
            AddressChange.id,
            state=AddressChange.status,
            detail=AddressChange.reason,
        )
    ).where(
        AddressChange.order_id == ORDER_ID,
        AddressChange.decided_at.is_not(None),
        AddressChange.status.in_(
            [ChangeStatus.APPLIED, ChangeStatus.REJECTED, ChangeStatus.LOST_TO_LOCK]
        ),
    )


def read_returns_filed() -> Select[tuple[object, ...]]:
    return select(
        *_columns(
            ReturnRequest.created_at,
            ReturnRequest.id,
            state=ReturnRequest.refund_type,
            amount_fen=ReturnRequest.amount_fen,
        )
    ).where(ReturnRequest.order_id == ORDER_ID)


def read_return_decisions() -> Select[tuple[object, ...]]:
    """Approved (the amount agreed) or rejected (the reason given to the customer)."""
    rejected = case((ReturnRequest.status == ReturnStatus.REJECTED, "rejected"), else_="approved")
    return select(
        *_columns(
            ReturnRequest.decided_at,
            ReturnRequest.id,
            state=rejected,
            detail=ReturnRequest.reject_reason,
            amount_fen=ReturnRequest.approved_amount_fen,
        )
    ).where(ReturnRequest.order_id == ORDER_ID, ReturnRequest.decided_at.is_not(None))


def read_refunds_paid() -> Select[tuple[object, ...]]:
    return select(*_columns(Refund.succeeded_at, Refund.id, amount_fen=Refund.amount_fen)).where(
        Refund.order_id == ORDER_ID,
        Refund.status == RefundState.SUCCESS,
        Refund.succeeded_at.is_not(None),
    )


def read_support_sent() -> Select[tuple[object, ...]]:
    """催发货 and messages, with the customer's own words."""
    return select(
        *_columns(
            SupportRequest.created_at,
            SupportRequest.id,
            state=SupportRequest.kind,
            detail=SupportRequest.body,
        )
    ).where(SupportRequest.order_id == ORDER_ID)


def read_support_replies() -> Select[tuple[object, ...]]:
    """Support's answer; who answered stays with the staff pages."""
    return select(
        *_columns(SupportRequest.replied_at, SupportRequest.id, detail=SupportRequest.reply)
    ).where(SupportRequest.order_id == ORDER_ID, SupportRequest.replied_at.is_not(None))


def read_invoices_requested() -> Select[tuple[object, ...]]:
    return select(
        *_columns(
            InvoiceRequest.created_at,
            InvoiceRequest.id,
            state=InvoiceRequest.title_kind,
            amount_fen=InvoiceRequest.amount_fen,
        )
    ).where(InvoiceRequest.order_id == ORDER_ID)


def read_invoices_issued() -> Select[tuple[object, ...]]:
    return select(*_columns(InvoiceRequest.issued_at, InvoiceRequest.id)).where(
        InvoiceRequest.order_id == ORDER_ID, InvoiceRequest.issued_at.is_not(None)
    )


def read_invoices_rejected() -> Select[tuple[object, ...]]:
    """A rejected request is final (the customer asks anew), so its last change is the no."""
    return select(
        *_columns(InvoiceRequest.updated_at, InvoiceRequest.id, detail=InvoiceRequest.reject_reason)
    ).where(InvoiceRequest.order_id == ORDER_ID, InvoiceRequest.status == InvoiceStatus.REJECTED)


def read_invoices_reversed() -> Select[tuple[object, ...]]:
    return select(*_columns(InvoiceRequest.reversed_at, InvoiceRequest.id)).where(
        InvoiceRequest.order_id == ORDER_ID, InvoiceRequest.reversed_at.is_not(None)
    )


def read_notifications_sent() -> Select[tuple[object, ...]]:
    """Only what reached the provider; the recipient (a phone) is masked in `_present`."""
    return select(
        *_columns(
            Notification.sent_at,
            Notification.id,
            state=Notification.event,
            detail=Notification.recipient,
            carrier_code=Notification.channel,
        )
    ).where(
        Notification.order_id == ORDER_ID,
        Notification.status == NotificationStatus.SENT,
        Notification.sent_at.is_not(None),
    )


def read_cancel_requests() -> Select[tuple[object, ...]]:
    """The customer's own cancel, with the reason they chose (the order's step says 已取消)."""
    return select(
        *_columns(
            OrderCancellation.created_at,
            OrderCancellation.id,
            state=OrderCancellation.reason,
            amount_fen=OrderCancellation.refund_fen,
        )
    ).where(OrderCancellation.order_id == ORDER_ID)


def read_exchanges_requested() -> Select[tuple[object, ...]]:
    """换货 asked for: the variant chosen (the replacement's parcels are its own order's)."""
    return (
        select(*_columns(Exchange.created_at, Exchange.id, detail=Sku.variant_label))
        .join(Sku, Sku.id == Exchange.to_sku_id)
        .where(Exchange.order_id == ORDER_ID)
    )


def read_exchanges_closed() -> Select[tuple[object, ...]]:
    """Done, cancelled or expired: the state says which."""
    return select(*_columns(Exchange.closed_at, Exchange.id, state=Exchange.status)).where(
        Exchange.order_id == ORDER_ID, Exchange.closed_at.is_not(None)
    )


@dataclass(frozen=True)
class Reader:
    source: int  # stable: cursors carry it; on a tie the higher number is shown first
    kind: str
    read: Callable[[], Select[tuple[object, ...]]]


# In the order things happen on one day, so equal timestamps still read newest first.
READERS: tuple[Reader, ...] = (
    Reader(1, "placed", _milestone(Order.placed_at)),
    Reader(2, "paid", _milestone(Order.paid_at)),
    Reader(3, "address_requested", read_address_requests),
    Reader(4, "address_outcome", read_address_outcomes),
    Reader(5, "support_sent", read_support_sent),
    Reader(6, "support_replied", read_support_replies),
    Reader(7, "packed", _milestone(Order.packed_at)),
    Reader(8, "shipped", _milestone(Order.shipped_at)),
    Reader(9, "carrier", read_carrier_events),
    Reader(10, "delivered", _milestone(Order.delivered_at)),
    Reader(11, "completed", _milestone(Order.completed_at)),
    Reader(12, "cancelled", _milestone(Order.cancelled_at)),
    Reader(13, "return_filed", read_returns_filed),
    Reader(14, "return_decided", read_return_decisions),
    Reader(15, "return_parcel", read_return_parcels_sent),
    Reader(16, "refund_paid", read_refunds_paid),
    Reader(17, "invoice_requested", read_invoices_requested),
    Reader(18, "invoice_issued", read_invoices_issued),
    Reader(19, "invoice_rejected", read_invoices_rejected),
    Reader(20, "invoice_reversed", read_invoices_reversed),
    Reader(21, "notified", read_notifications_sent),
    Reader(22, "cancel_requested", read_cancel_requests),
    Reader(23, "exchange_requested", read_exchanges_requested),
    Reader(24, "exchange_closed", read_exchanges_closed),
)
_KINDS = {reader.source: reader.kind for reader in READERS}


def _union(readers: Sequence[Reader]) -> Select[tuple[object, ...]]:
    parts = [
        reader.read().add_columns(literal_column(str(reader.source), Integer).label("source"))
        for reader in readers
    ]
    combined = parts[0].union_all(*parts[1:]).subquery("history")
    return select(combined).order_by(
        combined.c.at.desc(), combined.c.source.desc(), combined.c.row_id.desc()
    )


# Built once: constructing the union costs more than running it against SQLite.
_PAGE = _union(READERS)
_HISTORY = _PAGE.selected_columns
_AFTER_CURSOR = or_(
    _HISTORY.at < bindparam("cursor_at", type_=UTCDateTime()),
    and_(
        _HISTORY.at == bindparam("cursor_at", type_=UTCDateTime()),
        or_(
            _HISTORY.source < bindparam("cursor_source", type_=Integer),
            and_(
                _HISTORY.source == bindparam("cursor_source", type_=Integer),
                _HISTORY.row_id < bindparam("cursor_row_id", type_=Integer),
            ),
        ),
    ),
)
_FIRST_PAGE = _PAGE.limit(bindparam("limit", type_=Integer))
_LATER_PAGE = _PAGE.where(_AFTER_CURSOR).limit(bindparam("limit", type_=Integer))


def _present(row: Any) -> HistoryEntry:
    kind = _KINDS[row.source]
    detail: str | None = row.detail
    carrier_code: str | None = row.carrier_code
    if detail and kind == "address_requested":
        detail = mask_name(detail)
    elif detail and kind == "notified":
        detail = mask_phone(detail) if carrier_code == Channel.SMS else None
    return HistoryEntry(
        at=row.at,
        source=row.source,
        row_id=row.row_id,
        kind=kind,
        state=row.state,
        detail=detail,
        carrier_code=carrier_code,
        tracking_no=row.tracking_no,
        amount_fen=row.amount_fen,
    )


def read_history_page(
    database: Database, order_id: int, cursor: Cursor | None = None, page_size: int = PAGE_SIZE
) -> HistoryPage:
    """One page, newest first, in one query; the caller has checked the customer's access."""
    parameters: dict[str, object] = {"order_id": order_id, "limit": page_size + 1}
    statement = _FIRST_PAGE
    if cursor is not None:
        statement = _LATER_PAGE
        parameters |= {
            "cursor_at": cursor.at,
            "cursor_source": cursor.source,
            "cursor_row_id": cursor.row_id,
        }
    with database.engine.connect() as connection:
        rows = connection.execute(statement, parameters).all()
    entries = tuple(_present(row) for row in rows[:page_size])
    more = len(rows) > page_size
    return HistoryPage(entries, entries[-1].cursor if more and entries else None)
