"""Invoice verbs on a real database: values reloaded between steps, refusals change nothing."""

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.invoices import service
from backend.invoices.lifecycle import InvoiceStatus, InvoiceTransitionNotAllowed
from backend.invoices.models import InvoiceRequest, TitleKind
from backend.invoices.service import InvoiceTitle
from backend.orders.lifecycle import OrderStatus
from backend.refunds import payouts
from backend.refunds.gateways.base import GatewayRefund, RefundStatus
from backend.staff.models import Role
from backend.staff.permissions import PermissionDenied
from tests.factories import SYSTEM, make_order

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
COMPANY = InvoiceTitle(
    TitleKind.COMPANY, "华为技术有限公司", "914403001922038216", "fp@example.com"
)
FINANCE = Actor(ActorKind.STAFF, "财务小王", role=Role.FINANCE)
SUPPORT = Actor(ActorKind.STAFF, "客服小李", role=Role.SUPPORT)


def customer(order):
    return Actor(ActorKind.CUSTOMER, str(order.customer_id), channel="sms-link")


def invoice_row(database, invoice_id):
    with database.read() as session:
        return session.get(InvoiceRequest, invoice_id)


def count(database, model):
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_company_request_is_stored_with_the_code_normalised(database):
    order = make_order(database, status=OrderStatus.PAID)
    title = InvoiceTitle(
        TitleKind.COMPANY, " 华为技术有限公司 ", "91440300 1922038216", "fp@example.com"
    )
    invoice_id = service.request_invoice(
        database, order.id, order.customer_id, title, customer(order)
    )
    row = invoice_row(database, invoice_id)
    assert row.status == InvoiceStatus.REQUESTED
    assert (row.title, row.tax_number, row.amount_fen) == (
        "华为技术有限公司",
        "914403001922038216",
        order.paid_fen,
    )
    assert row.title_kind == TitleKind.COMPANY


@pytest.mark.parametrize(
    ("title", "code"),
    [
        (InvoiceTitle(TitleKind.COMPANY, "某公司", "914403001922038217", "a@b.cn"), "tax_number"),
        (InvoiceTitle(TitleKind.COMPANY, "某公司", None, "a@b.cn"), "tax_number"),
        (InvoiceTitle(TitleKind.COMPANY, "某公司", "914403001922038216", "not-an-email"), "email"),
        (InvoiceTitle(TitleKind.PERSONAL, "  "), "title"),
    ],
)
def test_a_wrong_title_is_refused_and_nothing_is_stored(database, title, code):
    order = make_order(database, status=OrderStatus.PAID)
    with pytest.raises(service.InvoiceInvalid) as refused:
        service.request_invoice(database, order.id, order.customer_id, title, customer(order))
    assert refused.value.code == code
    assert count(database, InvoiceRequest) == 0


def test_an_unpaid_order_or_another_customers_order_gets_no_request(database):
    unpaid = make_order(database, status=OrderStatus.PENDING_PAYMENT)
    other = make_order(database, status=OrderStatus.PAID, phone="13900000001")
    personal = InvoiceTitle(TitleKind.PERSONAL, "张三")
    with pytest.raises(service.InvoiceNotAllowed):
        service.request_invoice(database, unpaid.id, unpaid.customer_id, personal, customer(unpaid))
    with pytest.raises(service.InvoiceNotFound):
        service.request_invoice(database, other.id, unpaid.customer_id, personal, customer(unpaid))
    assert count(database, InvoiceRequest) == 0


def test_a_second_request_waits_until_the_first_is_rejected(database):
    order = make_order(database, status=OrderStatus.PAID)
    personal = InvoiceTitle(TitleKind.PERSONAL, "张三")
    first = service.request_invoice(
        database, order.id, order.customer_id, personal, customer(order)
    )
    with pytest.raises(service.InvoiceNotAllowed):
        service.request_invoice(database, order.id, order.customer_id, personal, customer(order))
    service.reject_invoice(database, first, "抬头有误", FINANCE)
    assert invoice_row(database, first).status == InvoiceStatus.REJECTED
    second = service.request_invoice(
        database, order.id, order.customer_id, COMPANY, customer(order)
    )
    assert second != first


def test_finance_issues_with_a_pdf_and_the_audit_says_who(database):
    order = make_order(database, status=OrderStatus.PAID)
    invoice_id = service.request_invoice(
        database, order.id, order.customer_id, COMPANY, customer(order)
    )
    service.issue_invoice_with_pdf(database, invoice_id, PDF, FINANCE)
    row = invoice_row(database, invoice_id)
    with database.read() as session:
        assert session.get(InvoiceRequest, invoice_id).pdf == PDF
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject == "invoice").order_by(AuditEvent.id)
        ).all()
    assert row.status == InvoiceStatus.ISSUED and row.decided_by == "财务小王"
    assert actions == ["invoice.requested", "invoice.issue"]


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"GIF89a not a pdf", "not_pdf"), (b"%PDF-" + b"0" * service.PDF_MAX_BYTES, "too_large")],
)
def test_a_file_that_is_not_a_pdf_or_too_large_is_refused(database, content, code):
    order = make_order(database, status=OrderStatus.PAID)
    invoice_id = service.request_invoice(
        database, order.id, order.customer_id, COMPANY, customer(order)
    )
    with pytest.raises(service.PdfRefused) as refused:
        service.issue_invoice_with_pdf(database, invoice_id, content, FINANCE)
    assert refused.value.code == code
    assert invoice_row(database, invoice_id).status == InvoiceStatus.REQUESTED


@pytest.mark.parametrize("actor", [SUPPORT, SYSTEM])
def test_only_finance_and_admin_issue(database, actor):
    order = make_order(database, status=OrderStatus.PAID)
    invoice_id = service.request_invoice(
        database, order.id, order.customer_id, COMPANY, customer(order)
    )
    with pytest.raises(PermissionDenied):
        service.issue_invoice_with_pdf(database, invoice_id, PDF, actor)
    with pytest.raises(PermissionDenied):
        service.reject_invoice(database, invoice_id, "no", actor)
    assert invoice_row(database, invoice_id).status == InvoiceStatus.REQUESTED
    admin = Actor(ActorKind.STAFF, "admin", role=Role.ADMIN)
    service.issue_invoice_with_pdf(database, invoice_id, PDF, admin)


def test_an_issued_invoice_cannot_be_issued_twice(database):
    order = make_order(database, status=OrderStatus.PAID)
    invoice_id = service.request_invoice(
        database, order.id, order.customer_id, COMPANY, customer(order)
    )
    service.issue_invoice_with_pdf(database, invoice_id, PDF, FINANCE)
    with pytest.raises(InvoiceTransitionNotAllowed):
        service.issue_invoice_with_pdf(database, invoice_id, b"%PDF-other", FINANCE)
    with database.read() as session:
        assert session.get(InvoiceRequest, invoice_id).pdf == PDF


def _refund_succeeds(database, order, amount):
    with database.write() as session:
        refund = payouts.start_refund(session, order.id, amount, SYSTEM)
        key, gateway = refund.out_refund_no, refund.gateway
    word = GatewayRefund(gateway, key, RefundStatus.SUCCESS, "SUCCESS", amount)
    assert payouts.apply_gateway_result(database, word)


def test_a_refund_after_issue_flags_the_invoice_for_reversal_once(database):
    order = make_order(database, status=OrderStatus.DELIVERED)
    invoice_id = service.request_invoice(
        database, order.id, order.customer_id, COMPANY, customer(order)
    )
    service.issue_invoice_with_pdf(database, invoice_id, PDF, FINANCE)
    _refund_succeeds(database, order, 1_000)
    row = invoice_row(database, invoice_id)
    assert row.status == InvoiceStatus.REVERSAL_PENDING and row.reversal_flagged_at is not None
    _refund_succeeds(database, order, 1_000)
    assert invoice_row(database, invoice_id).status == InvoiceStatus.REVERSAL_PENDING
    service.record_reversal(database, invoice_id, FINANCE)
    assert invoice_row(database, invoice_id).status == InvoiceStatus.REVERSED


def test_a_refund_before_issue_leaves_the_request_waiting(database):
    order = make_order(database, status=OrderStatus.DELIVERED)
    invoice_id = service.request_invoice(
        database, order.id, order.customer_id, COMPANY, customer(order)
    )
    _refund_succeeds(database, order, 1_000)
    assert invoice_row(database, invoice_id).status == InvoiceStatus.REQUESTED
