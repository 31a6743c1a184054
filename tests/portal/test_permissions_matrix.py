"""Role x route: every route has a rule, and every staff role meets it exactly.

The rule table is checked against the app's own route table (Mounts included), so a
new route fails here until someone decides, in NEEDS, who may use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from backend.staff.models import Role
from backend.staff.permissions import ROLE_PERMISSIONS, Permission
from portal.app import create_app
from tests.photo_images import photo_jpeg
from tests.portal.helpers import csrf_token, staff_login
from tests.staff_world import (
    IMPORT_CSV,
    STAFF_TARGET,
    World,
    build_world,
    changed_tables,
    snapshot,
    waybill_csv,
)

PUBLIC = "public"  # anyone: health, link and lookup entry points, the staff login itself
CUSTOMER = "customer"  # a customer session opened by a link or lookup, scoped to its orders
WEBHOOK = "webhook"  # providers, each authenticated by its own signature or secret path
BEARER = "bearer"  # the mini-program's own session token, given at login
SCRAPE = "scrape"  # Prometheus, with PORTAL_METRICS_TOKEN (tests/portal/test_metrics.py)
P = Permission

NEEDS: dict[str, Permission | str] = {
    "healthz": PUBLIC,
    "livez": PUBLIC,
    "readyz": PUBLIC,
    "ping": PUBLIC,
    "metrics": SCRAPE,
    "home": PUBLIC,
    "static": PUBLIC,
    "short_link": PUBLIC,
    "signed_link": PUBLIC,
    "lookup": PUBLIC,
    "language": PUBLIC,
    "divisions": PUBLIC,
    "orders": CUSTOMER,
    "wechat_oauth_callback": CUSTOMER,
    "miniprogram_login": PUBLIC,
    "miniprogram_lookup": BEARER,
    "miniprogram_phone": BEARER,
    "miniprogram_orders": BEARER,
    "miniprogram_consents": BEARER,
    "wechat_push": WEBHOOK,
    "wechat_push_verify": WEBHOOK,
    "tracking": CUSTOMER,
    "timeline": CUSTOMER,
    "order_history": CUSTOMER,
    "address_edit": CUSTOMER,
    "address_submit": CUSTOMER,
    "address_parse": CUSTOMER,
    "address_confirm": CUSTOMER,
    "return_form": CUSTOMER,
    "invoice_page": CUSTOMER,
    "in_transit_refund_form": CUSTOMER,
    "invoice_request": CUSTOMER,
    "invoice_pdf": CUSTOMER,
    "exchange_page": CUSTOMER,
    "exchange_request": CUSTOMER,
    "exchange_send_back": CUSTOMER,
    "exchange_cancel": CUSTOMER,
    "support_remind": CUSTOMER,
    "support_message": CUSTOMER,
    "confirm_receipt": CUSTOMER,
    "cancel_order": CUSTOMER,
    "return_file": CUSTOMER,
    "return_photo_upload": CUSTOMER,
    "return_photo": CUSTOMER,
    "return_progress": CUSTOMER,
    "return_send_back": CUSTOMER,
    "return_ask_again": CUSTOMER,
    "webhook_kuaidi100": WEBHOOK,
    "webhook_sf": WEBHOOK,
    "webhook_shopify": WEBHOOK,
    "webhook_channel": WEBHOOK,
    "webhook_shopify_shop": WEBHOOK,
    "webhook_channel_shop": WEBHOOK,
    "webhook_wechatpay_refund": WEBHOOK,
    "webhook_alipay_notify": WEBHOOK,
    "webhook_erp_waybills": WEBHOOK,
    "admin_home": PUBLIC,  # a redirect to the order search, which checks
    "admin_login": PUBLIC,
    "admin_logout": PUBLIC,
    "admin_login_code": PUBLIC,  # the code step of a login: only with a right password's cookie
    # Any staff member's own second factor; without a login it sends to the login page.
    "admin_second_factor": PUBLIC,
    "admin_own_password": PUBLIC,  # the same: one's own password, behind one's own login
    "admin_staff": P.MANAGE_STAFF,
    "admin_staff_add": P.MANAGE_STAFF,
    "admin_staff_disable": P.MANAGE_STAFF,
    "admin_staff_enable": P.MANAGE_STAFF,
    "admin_staff_role": P.MANAGE_STAFF,
    "admin_staff_warehouse": P.MANAGE_STAFF,
    "admin_staff_password": P.MANAGE_STAFF,
    "admin_staff_factor": P.MANAGE_STAFF,
    "admin_orders": P.VIEW_ORDERS,
    "admin_exceptions": P.VIEW_ORDERS,
    "admin_operations": P.VIEW_ORDERS,
    "admin_order": P.VIEW_ORDERS,
    "admin_issue_link": P.MANAGE_LINKS,
    "admin_revoke_links": P.MANAGE_LINKS,
    "admin_approve_hold": P.RELEASE_HOLDS,
    "admin_record_waybill": P.RECORD_WAYBILLS,
    "admin_cancel_order": P.CANCEL_ORDERS,
    "admin_reveal_contact": P.REVEAL_PERSONAL_DATA,
    "admin_customer": P.VIEW_CUSTOMERS,
    "admin_rules": P.MANAGE_RULES,
    "admin_save_rules": P.MANAGE_RULES,
    "admin_redirect_parcel": P.REVIEW_ADDRESSES,
    "admin_add_note": P.ANSWER_CUSTOMERS,
    "admin_resolve_complaint": P.ANSWER_CUSTOMERS,
    "admin_grant_goodwill": P.GRANT_GOODWILL,
    "admin_goodwill": P.APPROVE_GOODWILL,
    "admin_decide_goodwill": P.APPROVE_GOODWILL,
    "admin_intercept_parcel": P.REVIEW_REFUNDS,
    "admin_resend_message": P.ANSWER_CUSTOMERS,
    "admin_correct_waybill": P.RECORD_WAYBILLS,
    "admin_address_requests": P.REVIEW_ADDRESSES,
    "admin_decide_address_request": P.REVIEW_ADDRESSES,
    "admin_returns": P.REVIEW_REFUNDS,
    "admin_decide_return": P.REVIEW_REFUNDS,
    "admin_return_photo": P.REVIEW_REFUNDS,
    "admin_catalogue_image": P.REVIEW_REFUNDS,
    "admin_upload_catalogue_image": P.MANAGE_SKUS,
    "admin_check_return_parcel": P.REVIEW_REFUNDS,
    "admin_skus": P.MANAGE_SKUS,
    "admin_save_sku": P.MANAGE_SKUS,
    "admin_save_warehouse": P.MANAGE_SKUS,
    "admin_reallocate": P.ALLOCATE_STOCK,
    "admin_decide_transfer": P.ALLOCATE_STOCK,
    "admin_import": P.IMPORT_ORDERS,
    "admin_import_upload": P.IMPORT_ORDERS,
    "admin_waybill_import": P.RECORD_WAYBILLS,
    "admin_waybill_import_upload": P.RECORD_WAYBILLS,
    "admin_reconciliation": P.RECONCILE_CHANNELS,
    "admin_reconciliation_upload": P.RECONCILE_CHANNELS,
    "admin_finance_csv": P.EXPORT_FINANCE,
    "admin_invoices": P.ISSUE_INVOICES,
    "admin_in_transit_refunds": P.REVIEW_REFUNDS,
    "admin_in_transit_refund_act": P.REVIEW_REFUNDS,
    "admin_issue_invoice": P.ISSUE_INVOICES,
    "admin_reject_invoice": P.ISSUE_INVOICES,
    "admin_record_invoice_reversal": P.ISSUE_INVOICES,
    "admin_invoice_pdf": P.ISSUE_INVOICES,
    "warehouse_scan": P.SCAN_PARCELS,
    "warehouse_scan_post": P.SCAN_PARCELS,
    "warehouse_reprinted": P.SCAN_PARCELS,
    "warehouse_inspect_return": P.SCAN_PARCELS,
    "warehouse_book_parcel": P.SCAN_PARCELS,
    "warehouse_label_pdf": P.SCAN_PARCELS,
    "warehouse_reprint_label": P.SCAN_PARCELS,
    "warehouse_void_label": P.SCAN_PARCELS,
    "admin_jobs": P.MANAGE_JOBS,
    "admin_integrations": P.MANAGE_JOBS,
    "admin_retry_job": P.MANAGE_JOBS,
    "admin_retry_job_kind": P.MANAGE_JOBS,
    "admin_confirmations": P.CONFIRM_SHIPMENTS,
    "admin_retry_confirmation": P.CONFIRM_SHIPMENTS,
    "admin_answer_support": P.ANSWER_CUSTOMERS,
    "admin_cancellations": P.VIEW_ORDERS,
    "admin_cancellation_unpacked": P.SCAN_PARCELS,
    "admin_cancellation_retry_refund": P.REVIEW_REFUNDS,
    "admin_exchanges": P.SCAN_PARCELS,
    "admin_receive_exchange": P.SCAN_PARCELS,
}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    data: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] | None = None


# What each staff route is called with: a body that would change something if allowed,
# so that "nothing changed" after a 403 means the check held.
CALLS: dict[str, Callable[[World], Call]] = {
    "admin_orders": lambda w: Call("GET", "/admin/orders?q=T0"),
    "admin_exceptions": lambda w: Call("GET", "/admin/exceptions"),
    "admin_operations": lambda w: Call("GET", "/admin/operations"),
    "admin_order": lambda w: Call("GET", f"/admin/orders/{w.paid_order_id}"),
    "admin_issue_link": lambda w: Call("POST", f"/admin/orders/{w.paid_order_id}/links"),
    "admin_revoke_links": lambda w: Call("POST", f"/admin/orders/{w.paid_order_id}/links/revoke"),
    "admin_approve_hold": lambda w: Call("POST", f"/admin/orders/{w.held_order_id}/hold"),
    # The world's parcel is the delivered order's (it has carrier events): an allowed role
    # is told why not; the 403 of the others is what is tested.
    "admin_correct_waybill": lambda w: Call(
        "POST",
        f"/admin/orders/{w.paid_order_id}/shipments/{w.shipment_id}/waybill",
        {"carrier": "shunfeng", "waybill": "SF1234567890999"},
    ),
    # No message in the world: an allowed role is told it can not be resent, others 403.
    "admin_resend_message": lambda w: Call(
        "POST", f"/admin/orders/{w.paid_order_id}/messages/999999/resend", {"number": "1"}
    ),
    # The paid order has no parcel on the road: an allowed role is told so, others 403.
    "admin_intercept_parcel": lambda w: Call(
        "POST",
        f"/admin/orders/{w.paid_order_id}/intercept",
        {"shipment": str(w.shipment_id), "reason": "no_longer_needed"},
    ),
    "admin_grant_goodwill": lambda w: Call(
        "POST",
        f"/admin/orders/{w.paid_order_id}/goodwill",
        {"amount": "1.00", "reason": "补偿", "key": "matrix-key-0001"},
    ),
    "admin_goodwill": lambda w: Call("GET", "/admin/goodwill"),
    "admin_customer": lambda w: Call("GET", f"/admin/customers/{w.paid_customer_id}"),
    "admin_rules": lambda w: Call("GET", "/admin/rules"),
    # A complete, valid form: allowed, it saves version 2 (a change to see); denied, nothing.
    "admin_save_rules": lambda w: Call(
        "POST",
        "/admin/rules",
        {
            "based_on": "0",
            "refunds.max_auto_amount_fen": "100",
            "refunds.return_window_days": "7",
            "refunds.max_recent_refunds": "3",
            "addresses.free_edit_window": "2",
            "addresses.max_customer_edits": "3",
            "addresses.auto_approve_after": "4",
            "intake.high_value_fen": "5000",
            "profit.shipping_fen_per_parcel": "0",
            "profit.commission_bp": "",
            "profit.loss_below_fen": "0",
            "refunds.return_address": "",
            "notices.quiet_hours": "22:00-08:00",
            "operations.sla_minutes": "paid=15",
            "operations.working_hours": "9-18",
            "notices.sms_templates": "",
            "notices.wechat_templates": "",
            "notices.miniprogram_templates": "",
        },
    ),
    # The paid order is not packed: an allowed role is told it can't be redirected yet.
    "admin_redirect_parcel": lambda w: Call(
        "POST",
        f"/admin/orders/{w.paid_order_id}/redirect",
        {"address": "王五 13711112222 上海市浦东新区张杨路500号", "reason": "客户来电改址"},
    ),
    "admin_add_note": lambda w: Call(
        "POST", f"/admin/orders/{w.paid_order_id}/notes", {"kind": "note", "body": "来电问发货"}
    ),
    "admin_resolve_complaint": lambda w: Call("POST", f"/admin/notes/{w.complaint_id}/resolve"),
    # No goodwill refund in the world: an allowed role is told it was decided, others 403.
    "admin_decide_goodwill": lambda w: Call(
        "POST", "/admin/goodwill/999999", {"verdict": "approve"}
    ),
    "admin_cancel_order": lambda w: Call(
        "POST", f"/admin/orders/{w.cancellable_order_id}/cancel", {"reason": "changed_mind"}
    ),
    # An allowed reveal writes its audit event; a refused one must write nothing.
    "admin_reveal_contact": lambda w: Call(
        "POST", f"/admin/orders/{w.paid_order_id}/reveal", {"reason": "客户来电核对地址"}
    ),
    "admin_record_waybill": lambda w: Call(
        "POST",
        f"/admin/orders/{w.paid_order_id}/waybills",
        {"carrier": "shunfeng", "waybill": "SF1234567890123"},
    ),
    "admin_address_requests": lambda w: Call("GET", "/admin/address-requests"),
    "admin_decide_address_request": lambda w: Call(
        "POST", f"/admin/address-requests/{w.change_id}", {"verdict": "approve"}
    ),
    "admin_returns": lambda w: Call("GET", "/admin/returns"),
    "admin_decide_return": lambda w: Call(
        "POST", f"/admin/returns/{w.return_id}", {"verdict": "approve"}
    ),
    "admin_return_photo": lambda w: Call("GET", "/admin/return-photos/1"),
    # No SKU has an image in the world: an allowed role gets 404, a denied one 403 first.
    "admin_catalogue_image": lambda w: Call("GET", "/admin/skus/1/image"),
    "admin_upload_catalogue_image": lambda w: Call(
        "POST",
        "/admin/skus/image",
        {"code": w.sku_code},
        {"image": ("tea.jpg", photo_jpeg(seed=250), "image/jpeg")},
    ),
    "admin_check_return_parcel": lambda w: Call(
        "POST", f"/admin/returns/{w.parcel_return_id}/parcel-checked", {"note": "已联系顾客"}
    ),
    "admin_skus": lambda w: Call("GET", "/admin/skus"),
    "admin_save_sku": lambda w: Call(
        "POST", "/admin/skus", {"code": w.sku_code, "name": "西湖龙井 250g", "on_hand": "49"}
    ),
    "admin_save_warehouse": lambda w: Call(
        "POST", "/admin/warehouses", {"code": "GZ", "name": "广州仓", "province": "广东省"}
    ),
    # The held high-value order keeps its units at HZ; SH has TEA-1 to take them.
    "admin_reallocate": lambda w: Call(
        "POST", f"/admin/orders/{w.held_order_id}/allocation", {"warehouse": "SH"}
    ),
    "admin_decide_transfer": lambda w: Call(
        "POST",
        f"/admin/orders/{w.short_order_id}/transfers/{w.transfer_id}",
        {"verdict": "accept"},
    ),
    "admin_import": lambda w: Call("GET", "/admin/import"),
    "admin_import_upload": lambda w: Call(
        "POST", "/admin/import", files={"file": ("orders.csv", IMPORT_CSV, "text/csv")}
    ),
    "admin_waybill_import": lambda w: Call("GET", "/admin/waybills/import"),
    "admin_waybill_import_upload": lambda w: Call(
        "POST", "/admin/waybills/import", files={"file": ("w.csv", waybill_csv(w), "text/csv")}
    ),
    "admin_reconciliation": lambda w: Call("GET", "/admin/reconciliation"),
    "admin_reconciliation_upload": lambda w: Call(
        "POST",
        "/admin/reconciliation",
        {"channel": "taobao", "day": "2026-11-20"},
        {"export": ("taobao.csv", "订单号,状态,实付金额\nX1,已付款,1.00\n".encode(), "text/csv")},
    ),
    "admin_finance_csv": lambda w: Call("GET", "/admin/finance.csv"),
    # No invoice in the world: an allowed role gets 404, a denied one 403 before the lookup.
    "admin_invoices": lambda w: Call("GET", "/admin/invoices"),
    # No refund in transit in the world: an allowed role gets 409, a denied one 403.
    "admin_in_transit_refunds": lambda w: Call("GET", "/admin/in-transit-refunds"),
    "admin_in_transit_refund_act": lambda w: Call(
        "POST", "/admin/in-transit-refunds/999999", {"action": "approve"}
    ),
    "admin_issue_invoice": lambda w: Call(
        "POST",
        "/admin/invoices/999999/issue",
        files={"pdf": ("i.pdf", b"%PDF-1.7\n", "application/pdf")},
    ),
    "admin_reject_invoice": lambda w: Call(
        "POST", "/admin/invoices/999999/reject", {"reason": "x"}
    ),
    "admin_record_invoice_reversal": lambda w: Call("POST", "/admin/invoices/999999/reversed"),
    "admin_invoice_pdf": lambda w: Call("GET", "/admin/invoices/999999/pdf"),
    "warehouse_scan": lambda w: Call("GET", "/warehouse/scan"),
    "warehouse_scan_post": lambda w: Call("POST", "/warehouse/scan", {"code": w.paid_public_no}),
    "warehouse_reprinted": lambda w: Call(
        "POST", f"/warehouse/shipments/{w.shipment_id}/reprinted"
    ),
    "warehouse_inspect_return": lambda w: Call(
        "POST", f"/warehouse/returns/{w.return_id}/inspection", {"verdict": "ok"}
    ),
    "warehouse_book_parcel": lambda w: Call(
        "POST", f"/warehouse/orders/{w.paid_order_id}/parcels", {"parcel_no": "1"}
    ),
    "warehouse_label_pdf": lambda w: Call("GET", f"/warehouse/shipments/{w.shipment_id}/label.pdf"),
    "warehouse_reprint_label": lambda w: Call(
        "POST", f"/warehouse/shipments/{w.shipment_id}/reprint"
    ),
    "warehouse_void_label": lambda w: Call("POST", f"/warehouse/shipments/{w.shipment_id}/void"),
    "admin_jobs": lambda w: Call("GET", "/admin/jobs"),
    "admin_integrations": lambda w: Call("GET", "/admin/integrations"),
    "admin_staff": lambda w: Call("GET", "/admin/staff"),
    "admin_staff_add": lambda w: Call(
        "POST", "/admin/staff/add", {"name": "matrix-new", "role": "support", "password": "x" * 12}
    ),
    "admin_staff_disable": lambda w: Call("POST", "/admin/staff/disable", {"name": STAFF_TARGET}),
    "admin_staff_enable": lambda w: Call("POST", "/admin/staff/enable", {"name": STAFF_TARGET}),
    "admin_staff_role": lambda w: Call(
        "POST", "/admin/staff/role", {"name": STAFF_TARGET, "role": "admin"}
    ),
    "admin_staff_password": lambda w: Call("POST", "/admin/staff/password", {"name": STAFF_TARGET}),
    # The target is a support login: an allowed admin is told only warehouse logins are tied.
    "admin_staff_warehouse": lambda w: Call(
        "POST", "/admin/staff/warehouse", {"name": STAFF_TARGET, "warehouse": "HZ"}
    ),
    "admin_staff_factor": lambda w: Call(
        "POST", "/admin/staff/second-factor", {"name": STAFF_TARGET}
    ),
    "admin_retry_job": lambda w: Call("POST", f"/admin/jobs/{w.dead_job_id}/retry"),
    "admin_retry_job_kind": lambda w: Call("POST", "/admin/jobs/retry", {"kind": w.dead_job_kind}),
    "admin_confirmations": lambda w: Call("GET", "/admin/confirmations"),
    "admin_answer_support": lambda w: Call(
        "POST", f"/admin/support/{w.support_request_id}/answer", {"reply": "今天发出"}
    ),
    "admin_cancellations": lambda w: Call("GET", "/admin/cancellations"),
    "admin_cancellation_unpacked": lambda w: Call(
        "POST", f"/admin/cancellations/{w.cancellation_id}/unpacked"
    ),
    # Refused with 409 when allowed (nothing failed to retry); the 403 is what is tested.
    "admin_cancellation_retry_refund": lambda w: Call(
        "POST", f"/admin/cancellations/{w.cancellation_id}/retry-refund"
    ),
    # No exchange in the world: an allowed role is sent back to the queue, a denied one gets 403.
    "admin_exchanges": lambda w: Call("GET", "/admin/exchanges"),
    "admin_receive_exchange": lambda w: Call("POST", "/admin/exchanges/999999/receive"),
    "admin_retry_confirmation": lambda w: Call(
        "POST", f"/admin/confirmations/{w.confirmation_id}/retry"
    ),
}

STAFF_ROUTES = sorted(name for name, need in NEEDS.items() if isinstance(need, Permission))


def route_names(routes: list) -> Iterator[str]:
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            yield from route_names(route.routes)
        elif isinstance(route, (Mount, Route)):
            yield route.name


def test_a_new_route_without_a_rule_is_caught_even_inside_a_mount(settings, database):
    routes = [
        *create_app(settings, database).routes,
        Mount("/admin", routes=[Route("/not-yet", lambda request: None, name="admin_not_yet")]),
    ]
    assert set(route_names(routes)) - set(NEEDS) == {"admin_not_yet"}


def test_every_route_of_the_app_has_a_rule_and_every_rule_a_route(settings, database):
    names = list(route_names(create_app(settings, database).routes))
    assert len(names) == len(set(names)), "two routes share a name"
    assert sorted(set(names) - set(NEEDS)) == [], "new routes: say in NEEDS who may use them"
    assert sorted(set(NEEDS) - set(names)) == [], "rules for routes that no longer exist"


def test_every_staff_route_is_called_by_the_matrix():
    assert sorted(CALLS) == STAFF_ROUTES


def test_every_permission_guards_a_route_or_an_action():
    guarded = {need for need in NEEDS.values() if isinstance(need, Permission)}
    # VIEW_COSTS is an action on the SKU page, not a route of its own.
    assert set(Permission) - guarded == {P.VIEW_COSTS}


def _send(client: TestClient, call: Call, token: str):
    return client.request(
        call.method,
        call.path,
        data=call.data or None,
        files=call.files,
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )


def test_without_a_staff_login_every_staff_route_sends_to_the_login(client, database):
    world = build_world(database)
    token = csrf_token(client, "/admin/login")
    before = snapshot(database)
    answers = {name: _send(client, CALLS[name](world), token) for name in STAFF_ROUTES}
    assert {
        name: (answer.status_code, answer.headers.get("location"))
        for name, answer in answers.items()
        if (answer.status_code, answer.headers.get("location")) != (303, "/admin/login")
    } == {}
    assert changed_tables(before, snapshot(database)) == set()


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_each_role_gets_403_exactly_where_it_lacks_the_permission_and_changes_nothing(
    client, database, role
):
    world = build_world(database)
    staff_login(client, database, role)
    token = csrf_token(client, "/admin/login")
    wrong: dict[str, object] = {}
    for name in STAFF_ROUTES:
        allowed = NEEDS[name] in ROLE_PERMISSIONS[role]
        before = snapshot(database) if not allowed else None
        answer = _send(client, CALLS[name](world), token)
        to_login = answer.status_code == 303 and answer.headers["location"] == "/admin/login"
        if allowed and (answer.status_code in (401, 403) or answer.status_code >= 500 or to_login):
            wrong[name] = ("allowed, but answered", answer.status_code)
        elif not allowed and answer.status_code != 403:
            wrong[name] = ("denied, but answered", answer.status_code)
        elif not allowed and (changed := changed_tables(before, snapshot(database))):
            wrong[name] = ("denied, but changed", sorted(changed))
    assert wrong == {}


def test_the_readme_roles_table_is_the_permission_table():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| [^|]*\(`(\w+)`\) \|(.*)\|$", readme, re.M)
    roles = list(Role)
    assert "| Permission | " + " | ".join(roles) + " |" in readme
    table = {
        Permission(code): {
            role for role, cell in zip(roles, cells.split("|"), strict=True) if cell.strip()
        }
        for code, cells in rows
    }
    expected = {p: {r for r in Role if p in ROLE_PERMISSIONS[r]} for p in Permission}
    assert table == expected


def test_finance_sees_no_street_on_any_page_or_export_it_may_open(client, database):
    """The seed articles' rule: money people need amounts, not addresses (disclosure.py)."""
    world = build_world(database)
    staff_login(client, database, Role.FINANCE)
    token = csrf_token(client, "/admin/login")
    allowed = ROLE_PERMISSIONS[Role.FINANCE]
    opened = {}
    for name in STAFF_ROUTES:
        need, call = NEEDS[name], CALLS[name](world)
        if call.method == "GET" and need in allowed:
            opened[name] = _send(client, call, token)
    assert "admin_finance_csv" in opened and "admin_customer" in opened
    assert "admin_order" in opened and opened["admin_order"].status_code == 200
    # Every street in the world is on 文三路; the orders' districts may show, the street never.
    shown = {
        name: answer.status_code
        for name, answer in opened.items()
        if "文三路" in answer.content.decode("utf-8", "replace")
    }
    assert shown == {}
