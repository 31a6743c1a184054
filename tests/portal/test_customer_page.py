"""The customer page (客户360) through HTTP: figures, masked data, notes, and its query budget."""

from __future__ import annotations

from sqlalchemy import event, select

from backend.audit.models import AuditEvent
from backend.staff.models import Role
from backend.support.models import CustomerNote
from tests.factories import make_order
from tests.portal.helpers import csrf_token, staff_login

# Session, staff row, touch and the page's own statements, whatever the customer's history.
CUSTOMER_PAGE_QUERY_BUDGET = 12


def test_support_writes_a_complaint_on_the_order_and_sees_it_on_the_customer_page(client, database):
    order = make_order(database)
    staff_login(client, database, Role.SUPPORT)
    page = client.get(f"/admin/orders/{order.id}")
    assert f"/admin/customers/{order.customer_id}" in page.text
    token = csrf_token(client, f"/admin/orders/{order.id}")
    answer = client.post(
        f"/admin/orders/{order.id}/notes",
        data={"csrf_token": token, "kind": "complaint", "body": "客户投诉：快递员态度差"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "notice=complaint_added" in answer.headers["location"]
    assert "客户投诉：快递员态度差" in client.get(f"/admin/orders/{order.id}").text

    page = client.get(f"/admin/customers/{order.customer_id}")
    assert page.status_code == 200
    assert "客户投诉：快递员态度差" in page.text
    assert "138****8000" in page.text and "13800138000" not in page.text
    assert "文三路100号" not in page.text
    assert 'data-figure="open">1<' in page.text

    with database.read() as session:
        note_id = session.scalar(select(CustomerNote.id))
        audited = session.scalars(select(AuditEvent.action).where(AuditEvent.order_id == order.id))
        assert "note.complaint" in list(audited)
    answer = client.post(
        f"/admin/notes/{note_id}/resolve", data={"csrf_token": token}, follow_redirects=False
    )
    assert answer.headers["location"].endswith(
        f"/admin/customers/{order.customer_id}?notice=resolved"
    )
    assert 'data-figure="open">0<' in client.get(answer.headers["location"]).text
    # A second tap on a stale page says so, and changes nothing.
    again = client.post(f"/admin/notes/{note_id}/resolve", data={"csrf_token": token})
    assert again.status_code == 200


def test_garbage_notes_and_unknown_customers_get_clear_answers(client, database):
    order = make_order(database)
    staff_login(client, database, Role.SUPPORT)
    token = csrf_token(client, f"/admin/orders/{order.id}")
    empty = client.post(
        f"/admin/orders/{order.id}/notes",
        data={"csrf_token": token, "kind": "'; drop table", "body": "  "},
        follow_redirects=False,
    )
    assert "notice=note_empty" in empty.headers["location"]
    assert client.get("/admin/customers/999999").status_code == 404
    assert client.post("/admin/notes/999999/resolve", data={"csrf_token": token}).status_code == 404
    assert (
        client.post(
            "/admin/orders/999999/notes", data={"csrf_token": token, "body": "x"}
        ).status_code
        == 404
    )
    with database.read() as session:
        assert session.scalar(select(CustomerNote.id)) is None


def test_the_customer_page_stays_within_its_query_budget(client, database):
    orders = [make_order(database) for _ in range(6)]
    staff_login(client, database, Role.SUPERVISOR)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "PRAGMA", "SET", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        page = client.get(f"/admin/customers/{orders[0].customer_id}")
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert page.status_code == 200
    assert page.text.count("/admin/orders/") >= 6
    assert len(statements) <= CUSTOMER_PAGE_QUERY_BUDGET, "\n".join(statements)
