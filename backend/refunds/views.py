"""Read models for returns: the customer's progress page and the staff review queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from backend.db import Database
from backend.orders.models import Order, OrderLine, PaymentMethod
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.models import Refund, RefundState, ReturnLine, ReturnPhoto, ReturnRequest
from backend.refunds.rules import RefundType


class Step(StrEnum):
    SUBMITTED = "submitted"  # 申请已提交
    APPROVED = "approved"  # 审核通过 (自动/人工)
    PARCEL = "parcel"  # 退货寄回中
    RECEIVED = "received"  # 仓库已签收
    REFUNDING = "refunding"  # 退款处理中
    REFUNDED = "refunded"  # 退款成功


_REACHED: dict[ReturnStatus, Step] = {
    ReturnStatus.IN_REVIEW: Step.SUBMITTED,
    ReturnStatus.REJECTED: Step.SUBMITTED,
    ReturnStatus.APPROVED: Step.APPROVED,
    ReturnStatus.AWAITING_PARCEL: Step.APPROVED,
    ReturnStatus.PARCEL_IN_TRANSIT: Step.PARCEL,
    ReturnStatus.RECEIVED: Step.RECEIVED,
    ReturnStatus.REFUNDING: Step.REFUNDING,
    ReturnStatus.REFUND_FAILED: Step.REFUNDING,
    ReturnStatus.REFUNDED: Step.REFUNDED,
}
FINAL = frozenset({ReturnStatus.REFUNDED, ReturnStatus.REJECTED, ReturnStatus.REFUND_FAILED})


class Arrival(StrEnum):
    IMMEDIATE = "immediate"  # WeChat balance, Alipay balance
    BANK_DAYS = "bank_days"  # bank cards: 1-3 working days
    PLATFORM = "platform"  # refunded by the marketplace


def expected_arrival(method: PaymentMethod | None, account: str | None) -> Arrival:
    if method in (None, PaymentMethod.PLATFORM):
        return Arrival.PLATFORM
    if account and ("银行" in account or "卡" in account):
        return Arrival.BANK_DAYS
    return Arrival.IMMEDIATE


@dataclass(frozen=True)
class ReturnView:
    id: int
    order_id: int
    public_no: str
    status: ReturnStatus
    refund_type: RefundType
    reason: str
    description: str
    amount_fen: int
    approved_amount_fen: int | None
    checks: tuple[dict[str, Any], ...]
    rules_version: int  # the rules version the checks were made with; 0: the settings'
    decided_automatically: bool
    reject_reason: str | None
    review_due_at: datetime | None
    created_at: datetime
    steps: tuple[Step, ...]
    reached: Step
    refund_state: RefundState | None
    # Ours (out_refund_no), shown to every customer alike; the gateway's id comes second,
    # since Alipay has none and WeChat's is a 30-digit number support cannot search by.
    refund_reference: str | None
    gateway_refund_id: str | None
    refund_gateway: str | None  # "wechatpay" | "alipay"
    received_account: str | None  # as the gateway reports it ("支付用户零钱", a bank card)
    arrival: Arrival
    lines: tuple[tuple[str, int], ...]  # (line name, quantity asked for)
    photo_ids: tuple[int, ...]
    asked_again: bool = False

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    @property
    def marker(self) -> str:
        return f"{self.status}|{self.refund_state}|{self.refund_reference}|{self.gateway_refund_id}"


def _steps(refund_type: RefundType) -> tuple[Step, ...]:
    if refund_type == RefundType.REFUND_ONLY:
        return (Step.SUBMITTED, Step.APPROVED, Step.REFUNDING, Step.REFUNDED)
    return tuple(Step)


def get_return_view(
    database: Database, return_id: int, customer_id: int | None
) -> ReturnView | None:
    """None for someone else's return; `customer_id=None` is staff, who see every return."""
    with database.read() as session:
        head = session.execute(
            select(ReturnRequest, Order.public_no, Order.payment_method)
            .join(Order, Order.id == ReturnRequest.order_id)
            .where(ReturnRequest.id == return_id)
        ).first()
        if head is None or (customer_id is not None and head[0].customer_id != customer_id):
            return None
        request, public_no, method = head
        refund = session.scalars(
            select(Refund).where(Refund.return_id == return_id).order_by(Refund.id.desc())
        ).first()
        lines = session.execute(
            select(OrderLine.name, ReturnLine.quantity)
            .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
            .where(ReturnLine.return_id == return_id)
            .order_by(OrderLine.id)
        ).all()
        photos = session.scalars(select(ReturnPhoto.id).where(ReturnPhoto.return_id == return_id))
        photo_ids = tuple(photos)
        asked_again = request.resubmitted_from is not None or bool(
            session.scalar(
                select(ReturnRequest.id).where(ReturnRequest.resubmitted_from == return_id)
            )
        )
    refund_type = RefundType(request.refund_type)
    return ReturnView(
        id=request.id,
        order_id=request.order_id,
        public_no=public_no,
        status=ReturnStatus(request.status),
        refund_type=refund_type,
        reason=request.reason,
        description=request.description,
        amount_fen=request.amount_fen,
        approved_amount_fen=request.approved_amount_fen,
        checks=tuple(request.checks or ()),
        rules_version=request.rules_version or 0,
        decided_automatically=(request.decided_by or "").startswith("system"),
        reject_reason=request.reject_reason,
        review_due_at=request.review_due_at,
        created_at=request.created_at,
        steps=_steps(refund_type),
        reached=_REACHED[ReturnStatus(request.status)],
        refund_state=RefundState(refund.status) if refund else None,
        refund_reference=refund.out_refund_no if refund else None,
        gateway_refund_id=refund.gateway_refund_id if refund else None,
        refund_gateway=refund.gateway if refund else None,
        received_account=refund.received_account if refund else None,
        arrival=expected_arrival(
            PaymentMethod(method) if method else None, refund.received_account if refund else None
        ),
        lines=tuple((name, quantity) for name, quantity in lines),
        photo_ids=photo_ids,
        asked_again=asked_again,
    )


def list_returns_in_review(database: Database, limit: int = 100) -> list[int]:
    with database.read() as session:
        return list(
            session.scalars(
                select(ReturnRequest.id)
                .where(ReturnRequest.status == ReturnStatus.IN_REVIEW)
                .order_by(ReturnRequest.review_due_at)
                .limit(limit)
            )
        )


def list_failed_refunds(database: Database, limit: int = 100) -> list[tuple[int, str, int, str]]:
    """For finance: (return id, public no, amount, state) of refunds that need a person."""
    with database.read() as session:
        rows = session.execute(
            select(Refund.return_id, Order.public_no, Refund.amount_fen, Refund.status)
            .join(Order, Order.id == Refund.order_id)
            .where(Refund.status.in_([RefundState.FAILED, RefundState.ABNORMAL]))
            .order_by(Refund.updated_at.desc())
            .limit(limit)
        ).all()
    return [(rid or 0, no, amount, str(state)) for rid, no, amount, state in rows]


def photo_file(
    database: Database, photo_id: int, order_id: int | None, thumbnail: bool
) -> str | None:
    """The stored name of a photo, if it belongs to the order (None for staff: any order)."""
    with database.read() as session:
        photo = session.get(ReturnPhoto, photo_id)
    if photo is None or (order_id is not None and photo.order_id != order_id):
        return None
    return photo.thumbnail_name if thumbnail else photo.storage_name
