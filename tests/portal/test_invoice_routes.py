"""Invoices through the pages: the customer asks, finance uploads the PDF, only they download it."""

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.actors import Actor, ActorKind
from backend.invoices import service
from backend.invoices.lifecycle import InvoiceStatus
from backend.invoices.models import InvoiceRequest
from backend.orders.lifecycle import OrderStatus
from backend.refunds import payouts
from backend.refunds.gateways.base import GatewayRefund, RefundStatus
from backend.staff.models import Role
from portal.app import create_app
from tests.factories import SYSTEM, make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
FINANCE = Actor(ActorKind.STAFF, "finance-user", role=Role.FINANCE)
COMPANY = {
    "kind": "company",
    "title": "华为技术有限公司",
    "tax_number": "914403001922038216",
    "email": "fp@example.com",
}


@pytest.fixture
def paid(database, client):
    order = make_order(database, status=OrderStatus.PAID, phone="13800138000")
    open_short_link(client, database, order.id)
    return order


def ask(client, order, values):
    token = csrf_token(client)
    return client.post(
        f"/orders/{order.public_no}/invoice",
        data={**values, "csrf_token": token},
        follow_redirects=False,
    )


def rows(database) -> list[InvoiceRequest]:
    with database.read() as session:
        return list(session.scalars(select(InvoiceRequest)))


def test_the_order_page_links_to_the_invoice_form(client, paid):
    page = client.get(f"/orders/{paid.public_no}")
    assert f'href="/orders/{paid.public_no}/invoice"' in page.text
    form = client.get(f"/orders/{paid.public_no}/invoice")
    assert form.status_code == 200 and 'id="invoice_form"' in form.text


def test_an_invalid_credit_code_re_renders_the_form_with_422_and_stores_nothing(
    client, database, paid
):
    answer = ask(client, paid, {**COMPANY, "tax_number": "914403001922038217"})
    assert answer.status_code == 422
    assert 'role="alert"' in answer.text and "914403001922038217" in answer.text
    assert rows(database) == []


def test_a_company_request_shows_its_status_masked(client, database, paid):
    assert ask(client, paid, COMPANY).status_code == 303
    page = client.get(f"/orders/{paid.public_no}/invoice")
    assert "9144**********8216" in page.text and "914403001922038216" not in page.text
    assert "f***@example.com" in page.text
    assert [r.status for r in rows(database)] == [InvoiceStatus.REQUESTED]
    assert ask(client, paid, COMPANY).status_code == 409
    assert len(rows(database)) == 1


def test_finance_issues_and_only_that_customer_and_staff_download(client, database, paid, settings):
    ask(client, paid, COMPANY)
    invoice_id = rows(database)[0].id
    with TestClient(create_app(settings, database)) as staff:
        staff_login(staff, database, Role.FINANCE)
        token = csrf_token(staff, "/admin/invoices")
        refused = staff.post(
            f"/admin/invoices/{invoice_id}/issue",
            files={"pdf": ("invoice.pdf", b"<html>not a pdf</html>", "application/pdf")},
            headers={"X-CSRF-Token": token},
        )
        assert refused.status_code == 422 and rows(database)[0].status == InvoiceStatus.REQUESTED
        issued = staff.post(
            f"/admin/invoices/{invoice_id}/issue",
            files={"pdf": ("anything.txt", PDF, "text/plain")},
            headers={"X-CSRF-Token": token},
            follow_redirects=False,
        )
        assert issued.status_code == 303
        assert staff.get(f"/admin/invoices/{invoice_id}/pdf").content == PDF
    assert rows(database)[0].status == InvoiceStatus.ISSUED
    download = client.get(f"/orders/{paid.public_no}/invoice.pdf")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert "no-store" in download.headers["cache-control"]
    # Another customer's session, and no session at all, see nothing.
    other = make_order(database, status=OrderStatus.PAID, phone="13900000002")
    with TestClient(create_app(settings, database)) as stranger:
        open_short_link(stranger, database, other.id)
        assert stranger.get(f"/orders/{paid.public_no}/invoice.pdf").status_code == 404
    client.cookies.clear()
    assert client.get(f"/orders/{paid.public_no}/invoice.pdf").status_code in (303, 404)


def test_support_staff_may_not_open_the_queue_or_the_pdf(client, database, paid, settings):
    ask(client, paid, COMPANY)
    with TestClient(create_app(settings, database)) as staff:
        staff_login(staff, database, Role.SUPPORT)
        assert staff.get("/admin/invoices").status_code == 403
        assert staff.get(f"/admin/invoices/{rows(database)[0].id}/pdf").status_code == 403


def test_a_rejected_request_shows_the_reason_and_the_form_again(client, database, paid, settings):
    ask(client, paid, {"kind": "personal", "title": "张三"})
    invoice_id = rows(database)[0].id
    with TestClient(create_app(settings, database)) as staff:
        staff_login(staff, database, Role.FINANCE)
        token = csrf_token(staff, "/admin/invoices")
        staff.post(
            f"/admin/invoices/{invoice_id}/reject",
            data={"reason": "抬头请写全称", "csrf_token": token},
        )
    page = client.get(f"/orders/{paid.public_no}/invoice")
    assert "抬头请写全称" in page.text and 'id="invoice_form"' in page.text
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(InvoiceRequest)) == 1


def test_a_refund_after_issue_puts_the_invoice_back_in_the_queue_for_reversal(
    client, database, paid, settings
):
    ask(client, paid, COMPANY)
    invoice_id = rows(database)[0].id
    service.issue_invoice_with_pdf(database, invoice_id, PDF, FINANCE)
    with database.write() as session:
        refund = payouts.start_refund(session, paid.id, 1_000, SYSTEM)
        key, gateway = refund.out_refund_no, refund.gateway
    payouts.apply_gateway_result(
        database, GatewayRefund(gateway, key, RefundStatus.SUCCESS, "SUCCESS", 1_000)
    )
    with TestClient(create_app(settings, database)) as staff:
        staff_login(staff, database, Role.FINANCE)
        queue = staff.get("/admin/invoices")
        assert "红冲" in queue.text and f"/admin/invoices/{invoice_id}/reversed" in queue.text
        token = csrf_token(staff, "/admin/invoices")
        done = staff.post(
            f"/admin/invoices/{invoice_id}/reversed",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert done.status_code == 303
    assert rows(database)[0].status == InvoiceStatus.REVERSED
    # The customer still downloads what was issued: it is the record of the sale.
    assert client.get(f"/orders/{paid.public_no}/invoice.pdf").content == PDF
