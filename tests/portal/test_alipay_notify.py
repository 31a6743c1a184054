"""POST /webhooks/alipay/notify, with the payments emulator notifying the portal served live."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from backend.audit import AuditEvent
from backend.db import Database
from backend.jobs.models import Job
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, PaymentMethod
from backend.refunds import payouts
from backend.refunds.gateways.alipay import AlipayClient
from backend.refunds.gateways.base import GatewayUnavailable, load_private_key, load_public_key
from backend.refunds.models import Refund, RefundState
from emulators.ledger import EmulatedRefund
from emulators.payments import PaymentsEmulator
from emulators.serving import serve_in_thread
from portal.app import create_app
from portal.settings import Settings
from tests.factories import SYSTEM, make_order

APP_ID = "2021000000000001"


@dataclass
class Live:
    emulator: PaymentsEmulator
    portal_url: str
    client: AlipayClient  # what the worker uses, with a short timeout

    @property
    def notify_url(self) -> str:
        return f"{self.portal_url}/webhooks/alipay/notify"


@pytest.fixture
def live(settings: Settings, database: Database, tmp_path: Path) -> Iterator[Live]:
    emulator = PaymentsEmulator(settle_delay=0.1)
    credentials = emulator.enroll_alipay_app(APP_ID)
    (tmp_path / "app.pem").write_text(credentials.private_key_pem)
    (tmp_path / "alipay.pem").write_text(credentials.alipay_public_key_pem)
    with serve_in_thread(emulator.app) as gateway_url:
        wired = replace(
            settings,
            alipay_app_id=APP_ID,
            alipay_private_key_file=str(tmp_path / "app.pem"),
            alipay_public_key_file=str(tmp_path / "alipay.pem"),
            alipay_gateway_url=f"{gateway_url}/gateway.do",
        )
        with serve_in_thread(create_app(wired, database)) as portal_url, httpx.Client() as http:
            client = AlipayClient(
                http,
                app_id=APP_ID,
                private_key=load_private_key(credentials.private_key_pem),
                alipay_public_key=load_public_key(credentials.alipay_public_key_pem),
                gateway_url=f"{gateway_url}/gateway.do",
                timeout=httpx.Timeout(0.5, connect=2.0),
            )
            yield Live(emulator, portal_url, client)


def paid_by_alipay(database: Database, live: Live, *, notify: bool = True) -> Order:
    order = make_order(database, status=OrderStatus.DELIVERED, payment_method=PaymentMethod.ALIPAY)
    url = live.notify_url if notify else ""
    live.emulator.seed_payment(order.public_no, order.paid_fen, notify_url=url)
    return order


def store_refund(database: Database, order: Order, amount_fen: int) -> Refund:
    with database.write() as session:
        refund = payouts.start_refund(session, order.id, amount_fen, SYSTEM)
        session.flush()
        session.expunge(refund)
        return refund


def reloaded(database: Database, refund_id: int) -> Refund:
    with database.read() as session:
        refund = session.get(Refund, refund_id)
        assert refund is not None
        session.expunge(refund)
        return refund


def settled_jobs_and_events(database: Database) -> tuple[int, int]:
    with database.read() as session:
        jobs = session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == payouts.SETTLED)
        )
        events = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action.like("refund.%"), AuditEvent.action != "refund.stored")
        )
    return int(jobs or 0), int(events or 0)


def test_the_notify_settles_a_refund_whose_answer_was_lost(database: Database, live: Live):
    order = paid_by_alipay(database, live)
    refund = store_refund(database, order, 5_000)
    live.emulator.faults.hang_next, live.emulator.faults.hang_seconds = 1, 1.5
    gateways = payouts.Gateways({"alipay": live.client})

    with pytest.raises(GatewayUnavailable):  # Alipay refunded; the worker never heard
        payouts.execute_refund(database, gateways, {"refund_id": refund.id})

    (delivery,) = live.emulator.wait_for_deliveries(1)
    assert (delivery.status, delivery.text) == (200, "success")
    settled = reloaded(database, refund.id)
    assert settled.status == RefundState.SUCCESS
    assert settled.raw_status == "notify:TRADE_SUCCESS"
    assert settled.succeeded_at is not None
    assert settled_jobs_and_events(database) == (1, 1)
    assert live.emulator.refunded_fen(order.public_no) == 5_000


def test_the_same_notify_twice_settles_once(database: Database, live: Live):
    order = paid_by_alipay(database, live)
    refund = store_refund(database, order, order.paid_fen)
    live.emulator.faults.duplicate_notify = True

    live.client.refund(order.public_no, refund.out_refund_no, order.paid_fen, order.paid_fen, "")

    deliveries = live.emulator.wait_for_deliveries(2)
    assert [(d.status, d.text) for d in deliveries] == [(200, "success")] * 2
    settled = reloaded(database, refund.id)
    assert (settled.status, settled.raw_status) == (RefundState.SUCCESS, "notify:TRADE_CLOSED")
    assert settled_jobs_and_events(database) == (1, 1)
    assert len(live.emulator.refunds_of(order.public_no)) == 1


def genuine_notify(database: Database, live: Live) -> tuple[Refund, dict[str, str]]:
    """A refund made at Alipay but not yet heard of, and the notify Alipay would send."""
    order = paid_by_alipay(database, live, notify=False)
    refund = store_refund(database, order, 2_000)
    live.client.refund(order.public_no, refund.out_refund_no, 2_000, order.paid_fen, "")
    (made,) = live.emulator.refunds_of(order.public_no)
    payment = live.emulator.ledger.payments[order.public_no]
    return refund, live.emulator.alipay.build_refund_notify(payment, made, APP_ID)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda form: form | {"refund_fee": "256.00"}, id="changed-after-signing"),
        pytest.param(lambda form: form | {"sign": form["sign"][::-1]}, id="bad-signature"),
        pytest.param(lambda form: {k: v for k, v in form.items() if k != "sign"}, id="unsigned"),
    ],
)
def test_a_forged_notify_is_refused_and_changes_nothing(database: Database, live: Live, forge):
    refund, form = genuine_notify(database, live)

    answer = httpx.post(live.notify_url, data=forge(form))

    assert answer.status_code == 400 and answer.text != "success"
    assert reloaded(database, refund.id).status == RefundState.STORED
    assert settled_jobs_and_events(database) == (0, 0)


def test_a_notify_for_another_app_is_refused_even_when_alipay_signed_it(
    database: Database, live: Live
):
    refund, _ = genuine_notify(database, live)
    live.emulator.enroll_alipay_app("2021000000000999")
    (made,) = live.emulator.refunds_of(reloaded_order_no(database, refund))
    payment = live.emulator.ledger.payments[made.out_trade_no]
    other = live.emulator.alipay.build_refund_notify(payment, made, "2021000000000999")

    answer = httpx.post(live.notify_url, data=other)

    assert answer.status_code == 400
    assert reloaded(database, refund.id).status == RefundState.STORED


def reloaded_order_no(database: Database, refund: Refund) -> str:
    with database.read() as session:
        order = session.get(Order, refund.order_id)
        assert order is not None
        return order.public_no


def test_the_genuine_notify_is_answered_success_and_applied(database: Database, live: Live):
    refund, form = genuine_notify(database, live)

    answer = httpx.post(live.notify_url, data=form)

    assert (answer.status_code, answer.text) == (200, "success")
    assert reloaded(database, refund.id).status == RefundState.SUCCESS
    assert settled_jobs_and_events(database) == (1, 1)


@pytest.mark.parametrize("mismatch", ["paid-by-wechat", "another-payment"])
def test_a_verified_notify_about_someone_elses_refund_changes_nothing(
    database: Database, live: Live, mismatch: str
):
    method = PaymentMethod.WECHAT_PAY if mismatch == "paid-by-wechat" else PaymentMethod.ALIPAY
    order = make_order(database, status=OrderStatus.DELIVERED, payment_method=method)
    refund = store_refund(database, order, 2_000)
    other = paid_by_alipay(database, live, notify=False)
    payment = live.emulator.seed_payment(
        order.public_no if mismatch == "paid-by-wechat" else other.public_no, order.paid_fen
    )
    now = datetime.now(UTC)
    made = EmulatedRefund(
        "alipay",
        refund.out_refund_no,
        payment.out_trade_no,
        2_000,
        "",
        "REFUND_SUCCESS",
        now,
        success_at=now,
    )
    form = live.emulator.alipay.build_refund_notify(payment, made, APP_ID)

    answer = httpx.post(live.notify_url, data=form)

    assert (answer.status_code, answer.text) == (200, "success")  # Alipay's, but not ours
    assert reloaded(database, refund.id).status == RefundState.STORED
    assert settled_jobs_and_events(database) == (0, 0)
