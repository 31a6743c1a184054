"""Paying refunds out through the gateways: never twice, never more than was paid.

The refund row and its key (`out_refund_no`) are committed before the gateway is
called, in the same transaction as the job that calls it, with the order row locked
while the sum is checked. Every retry reuses the key, so a gateway that did the work
but timed out answers with the same refund instead of making a second one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.invoices.service import flag_for_reversal
from backend.orders.models import Order, PaymentMethod
from backend.orders.service import OrderNotFound
from backend.refunds.gateways import alipay_notify
from backend.refunds.gateways.alipay import AlipayClient
from backend.refunds.gateways.base import (
    GatewayRefund,
    GatewayRejected,
    GatewayUnavailable,
    RefundGateway,
    RefundNotFound,
    RefundStatus,
)
from backend.refunds.models import COMMITTED_STATES, Refund, RefundState

EXECUTE = "refund.execute"
RECONCILE = "refund.reconcile"
SETTLED = "refund.settled"  # job: the return (and the customer) hear the outcome
# Left PROCESSING this long, a refund is asked about instead of waited for.
RECONCILE_AFTER = timedelta(minutes=2)

GATEWAY_FOR: dict[PaymentMethod, str] = {
    PaymentMethod.WECHAT_PAY: "wechatpay",
    PaymentMethod.ALIPAY: "alipay",
}
_STATE_FOR: dict[RefundStatus, RefundState] = {
    RefundStatus.PROCESSING: RefundState.PROCESSING,
    RefundStatus.SUCCESS: RefundState.SUCCESS,
    RefundStatus.CLOSED: RefundState.CLOSED,
    RefundStatus.ABNORMAL: RefundState.ABNORMAL,
    RefundStatus.UNKNOWN: RefundState.PROCESSING,  # keep asking; never guess
}
FINAL_STATES = frozenset({RefundState.SUCCESS, RefundState.CLOSED, RefundState.FAILED})


class RefundExceedsPayment(Exception):
    """This refund and the ones before it would pay back more than the customer paid."""

    def __init__(self, paid_fen: int, committed_fen: int, asked_fen: int) -> None:
        super().__init__(f"paid {paid_fen}, refunded {committed_fen}, asked {asked_fen}")
        self.paid_fen, self.committed_fen, self.asked_fen = paid_fen, committed_fen, asked_fen


class NoGateway(Exception):
    """The order was paid through a way we cannot refund through (e.g. the marketplace)."""


@dataclass(frozen=True)
class Gateways:
    by_name: Mapping[str, RefundGateway] = field(default_factory=dict)

    def get(self, name: str) -> RefundGateway:
        gateway = self.by_name.get(name)
        if gateway is None:
            raise jobs.GiveUp(f"no {name} gateway configured")
        return gateway


def committed_fen(session: Session, order_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
            Refund.order_id == order_id, Refund.status.in_([str(s) for s in COMMITTED_STATES])
        )
    )
    return int(total or 0)


def start_refund(
    session: Session,
    order_id: int,
    amount_fen: int,
    actor: Actor,
    *,
    return_id: int | None = None,
    now: datetime | None = None,
) -> Refund:
    """Inside the caller's transaction: lock the order, check the sum, store row + key + job."""
    order = session.get(Order, order_id, with_for_update=True)
    if order is None:
        raise OrderNotFound(order_id)
    gateway = GATEWAY_FOR.get(PaymentMethod(order.payment_method)) if order.payment_method else None
    if gateway is None:
        raise NoGateway(str(order.payment_method))
    already = committed_fen(session, order_id)
    if amount_fen <= 0 or already + amount_fen > order.paid_fen:
        raise RefundExceedsPayment(order.paid_fen, already, amount_fen)
    refund = Refund(
        order_id=order_id,
        return_id=return_id,
        gateway=gateway,
        out_refund_no="pending",
        amount_fen=amount_fen,
        created_at=now or utcnow(),
    )
    session.add(refund)
    session.flush()
    # The key is ours and permanent: RF + order + refund id, within both gateways' charset.
    refund.out_refund_no = f"RF{order.public_no}-{refund.id}"
    jobs.enqueue(session, EXECUTE, {"refund_id": refund.id}, key=f"refund:{refund.id}")
    audit.record(
        session,
        actor,
        "refund.stored",
        subject="refund",
        subject_id=refund.id,
        order_id=order_id,
        after={"amount_fen": amount_fen, "key": refund.out_refund_no},
    )
    return refund


def execute_refund(database: Database, gateways: Gateways, payload: dict[str, Any]) -> None:
    """Job: call the gateway with the stored key. Safe to run again after any failure."""
    with database.read() as session:
        refund = session.get(Refund, payload["refund_id"])
        if refund is None or refund.status in FINAL_STATES:
            return
        order = session.get(Order, refund.order_id)
        assert order is not None
    gateway = gateways.by_name.get(refund.gateway)
    if gateway is None:
        # Not retried: nobody can pay it until finance acts, and the customer must see that.
        record_failure(database, refund.id, f"no {refund.gateway} gateway configured")
        return
    try:
        result = gateway.refund(
            order.public_no, refund.out_refund_no, refund.amount_fen, order.paid_fen, "售后退款"
        )
    except GatewayRejected as error:
        record_failure(database, refund.id, f"{error.code}: {error}")
        return
    except GatewayUnavailable as error:
        note_error(database, refund.id, str(error))
        raise  # retried later with the same key
    apply_gateway_result(database, result)


def note_error(database: Database, refund_id: int, message: str) -> None:
    with database.write() as session:
        refund = session.get(Refund, refund_id)
        if refund is not None:
            refund.last_error = message[:1000]


def record_failure(database: Database, refund_id: int, message: str) -> None:
    with database.write() as session:
        refund = session.get(Refund, refund_id, with_for_update=True)
        if refund is None or refund.status in FINAL_STATES:
            return
        refund.status, refund.last_error = RefundState.FAILED, message[:1000]
        _settled(session, refund)


def apply_gateway_result(database: Database, result: GatewayRefund) -> bool:
    """A gateway's word about a refund (answer, notify or query), applied monotonically."""
    with database.write() as session:
        refund = session.scalars(
            select(Refund).where(Refund.out_refund_no == result.out_refund_no).with_for_update()
        ).first()
        if refund is None or refund.status in FINAL_STATES:
            return False  # unknown key, or already settled: a late or repeated word
        if not _is_about(session, refund, result):
            return False  # a word about the key, but from another gateway or payment
        state = _STATE_FOR[result.status]
        changed = state != refund.status
        refund.status, refund.raw_status = state, result.raw_status
        refund.gateway_refund_id = result.gateway_refund_id or refund.gateway_refund_id
        refund.received_account = result.received_account or refund.received_account
        if state == RefundState.SUCCESS:
            refund.succeeded_at = result.success_time or utcnow()
        if changed and state in FINAL_STATES | {RefundState.ABNORMAL}:
            _settled(session, refund)
        return changed


def _is_about(session: Session, refund: Refund, result: GatewayRefund) -> bool:
    if result.gateway != refund.gateway:
        return False
    if result.payment_reference is None:
        return True
    order = session.get(Order, refund.order_id)
    return order is not None and order.public_no == result.payment_reference


def _settled(session: Session, refund: Refund) -> None:
    audit.record(
        session,
        Actor.system("payouts"),
        f"refund.{refund.status}",
        subject="refund",
        subject_id=refund.id,
        order_id=refund.order_id,
        after={
            "amount_fen": refund.amount_fen,
            "raw": refund.raw_status,
            "error": refund.last_error,
        },
    )
    jobs.enqueue(
        session, SETTLED, {"refund_id": refund.id}, key=f"settled:{refund.id}:{refund.status}"
    )
    if refund.status == RefundState.SUCCESS:
        # Money went back after the invoice was issued: the invoice now overstates the sale.
        flag_for_reversal(session, refund.order_id, Actor.system("payouts"))


def reconcile(database: Database, gateways: Gateways, now: datetime | None = None) -> int:
    """Periodic: refunds left stored or processing are asked about, and settled or re-sent."""
    now = now or utcnow()
    with database.read() as session:
        stale = session.execute(
            select(Refund.id, Refund.gateway, Refund.out_refund_no, Order.public_no)
            .join(Order, Order.id == Refund.order_id)
            .where(
                Refund.status.in_([RefundState.STORED, RefundState.PROCESSING]),
                Refund.updated_at < now - RECONCILE_AFTER,
            )
            .limit(100)
        ).all()
    for refund_id, gateway, key, public_no in stale:
        try:
            result = gateways.get(gateway).query(key, public_no)
        except RefundNotFound:
            # The gateway never got it (or Alipay failed it): send it again, same key.
            with database.write() as session:
                jobs.enqueue(
                    session,
                    EXECUTE,
                    {"refund_id": refund_id},
                    key=f"refund:{refund_id}:resend:{now:%Y%m%d%H%M}",
                )
            continue
        except (GatewayUnavailable, jobs.GiveUp):
            continue
        apply_gateway_result(database, result)
    return len(stale)


class NotifyReader(Protocol):
    def read_notify(self, headers: Mapping[str, str], body: bytes) -> Any: ...


def receive_wechatpay_notify(
    database: Database, client: NotifyReader, headers: Mapping[str, str], body: bytes
) -> bool:
    """The refund notify: verified and decrypted by the adapter (NotifyRejected otherwise),
    then applied like any other word from the gateway; repeats and early ones change nothing."""
    notice = client.read_notify(headers, body)
    return apply_gateway_result(database, notice.refund)


def receive_alipay_notify(
    database: Database, client: AlipayClient, params: Mapping[str, str]
) -> bool:
    """Alipay's trade_status_sync notify: verified (NotifyRejected otherwise), then applied
    like any other word from the gateway, in one transaction with the settled job.

    Not every refund is notified (only trades paid with our notify_url), so this only
    settles sooner what the apply answer or reconcile() settles anyway; a repeat, or a
    notify about a refund already settled, changes nothing.
    """
    notice = alipay_notify.read_refund_notify(
        params, alipay_public_key=client.alipay_public_key, app_id=client.app_id
    )
    if notice.refund is None:
        return False  # the trade's own payment notify: nothing of ours to settle
    return apply_gateway_result(database, notice.refund)
