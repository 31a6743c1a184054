"""The one timeline: each reader on known data, newest first, and paging across equal times."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.invoices.models import TitleKind
from backend.invoices.service import (
    InvoiceTitle,
    issue_invoice_with_pdf,
    record_reversal,
    reject_invoice,
    request_invoice,
)
from backend.jobs.models import Job
from backend.logistics.models import Shipment
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.notifications.models import Notification
from backend.order_history import PAGE_SIZE, READERS, Cursor, read_history_page
from backend.orders.address_changes import (
    confirm_address_change,
    decide_request,
    start_address_change,
)
from backend.orders.address_policy import AddressRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import OrderLine
from backend.orders.service import NewAddress
from backend.refunds.cancellation import cancel_order
from backend.refunds.gateways.base import GatewayRefund, RefundStatus
from backend.refunds.models import Refund, ReturnRequest
from backend.refunds.payouts import apply_gateway_result
from backend.refunds.photo_uploads import store_photo
from backend.refunds.photos import PhotoStore
from backend.refunds.return_parcels import send_back
from backend.refunds.rules import RefundRules, RefundType
from backend.refunds.service import file_return, review_return
from backend.staff.models import Role
from backend.support.service import answer_request, leave_message
from tests.browser.parcels import record_events
from tests.factories import make_order, send_queued_sms
from tests.photo_images import photo_jpeg

SUPPORT = Actor(ActorKind.STAFF, "客服小李", role=Role.SUPERVISOR)
FINANCE = Actor(ActorKind.STAFF, "财务小王", role=Role.FINANCE)
REVIEWER = Actor(ActorKind.STAFF, "客服小张", role=Role.SUPERVISOR)
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def customer_of(order) -> Actor:
    return Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="portal")


def everything(database, order_id):
    """Every entry, page by page, as the customer would load them."""
    entries, cursor, pages = [], None, 0
    while True:
        page = read_history_page(database, order_id, cursor, page_size=5)
        entries.extend(page.entries)
        pages += 1
        if page.next_cursor is None:
            return entries, pages
        # Through text, as the "更早的记录" link carries it.
        cursor = Cursor.decode(page.next_cursor.encode())


def test_source_numbers_are_unique_and_kinds_are_named():
    assert len({reader.source for reader in READERS}) == len(READERS)
    assert len({reader.kind for reader in READERS}) == len(READERS)


def test_a_delivered_order_reads_placed_paid_packed_shipped_carrier_delivered_newest_first(
    database,
):
    order = make_order(database, status=OrderStatus.DELIVERED)
    now = utcnow().replace(microsecond=0)
    record_events(
        database,
        order.id,
        [
            CarrierEvent(now - timedelta(minutes=30), TrackingStatus.PICKED_UP, "已揽收"),
            # A carrier clock far ahead: the tracking page leaves it out, and so does this.
            CarrierEvent(now + timedelta(days=30), TrackingStatus.IN_TRANSIT, "未来的事件"),
        ],
    )
    page = read_history_page(database, order.id)
    kinds = [entry.kind for entry in page.entries]
    assert {"placed", "paid", "packed", "shipped", "carrier", "delivered"} <= set(kinds)
    assert kinds[-1] == "placed"
    assert [entry.at for entry in page.entries] == sorted(
        (entry.at for entry in page.entries), reverse=True
    )
    [carrier] = [entry for entry in page.entries if entry.kind == "carrier"]
    assert carrier.state == TrackingStatus.PICKED_UP and carrier.detail == "已揽收"
    assert carrier.carrier_code == "sandbox" and carrier.tracking_no
    assert all(entry.detail != "未来的事件" for entry in page.entries)
    assert page.next_cursor is None


def change_address(database, order, rules, name):
    """The customer's change, confirmed with the code the SMS job carries."""
    address = NewAddress(name, "13912345678", "浙江省", "杭州市", "西湖区", "文三路100号")
    started = start_address_change(database, order.id, address, customer_of(order), rules)
    with database.read() as session:
        code = session.scalars(select(Job.payload).where(Job.key == f"code:{started.change_id}"))
        payload = code.one()
    confirm_address_change(
        database, order.id, started.change_id, payload["code"], customer_of(order), rules
    )
    return started.change_id


def test_a_free_edit_is_one_entry_and_a_refused_request_two_all_masked(database):
    order = make_order(database, status=OrderStatus.PAID)
    change_address(database, order, AddressRules(), "李四")
    entries, _ = everything(database, order.id)
    [outcome] = [entry for entry in entries if entry.kind == "address_outcome"]
    assert outcome.state == "applied"
    assert not [entry for entry in entries if entry.kind == "address_requested"]
    # Past the free window the change is a request that customer service answers.
    late = AddressRules(free_edit_window=timedelta(0))
    change_id = change_address(database, order, late, "王五")
    decide_request(database, change_id, False, SUPPORT, late, reason="仓库已在备货")
    entries, _ = everything(database, order.id)
    [requested] = [entry for entry in entries if entry.kind == "address_requested"]
    assert requested.detail == "王*"
    refused = next(entry for entry in entries if entry.kind == "address_outcome")
    assert refused.state == "rejected" and refused.detail == "仓库已在备货"
    flat = repr(entries)
    assert "李四" not in flat and "王五" not in flat and "13912345678" not in flat


def test_a_return_reads_filed_approved_money_back_and_the_invoice_reversed(database, tmp_path):
    order = make_order(database, status=OrderStatus.DELIVERED)
    photo_id = store_photo(database, PhotoStore(tmp_path), order.id, photo_jpeg(seed=7))
    title = InvoiceTitle(TitleKind.PERSONAL, "张三")
    invoice_id = request_invoice(database, order.id, order.customer_id, title, customer_of(order))
    issue_invoice_with_pdf(database, invoice_id, PDF, FINANCE)
    with database.read() as session:
        line_id = session.scalars(select(OrderLine.id).where(OrderLine.order_id == order.id)).one()
    file_return(
        database,
        order.id,
        order.customer_id,
        {line_id: 1},
        RefundType.REFUND_ONLY,
        "missing_item",
        "少了一盒",
        [photo_id],
        RefundRules(),
        customer_of(order),
    )
    entries, _ = everything(database, order.id)
    [filed] = [entry for entry in entries if entry.kind == "return_filed"]
    assert filed.state == RefundType.REFUND_ONLY and filed.amount_fen == 12_800
    # The rules approve a small refund-only request at once.
    [decided] = [entry for entry in entries if entry.kind == "return_decided"]
    assert decided.state == "approved" and decided.amount_fen == 12_800
    assert "少了一盒" not in [entry.detail for entry in entries]
    assert not [entry for entry in entries if entry.kind == "refund_paid"]
    # The gateway's notify says the money is back: now, and only now, 退款成功.
    with database.read() as session:
        refund = session.scalars(select(Refund).where(Refund.order_id == order.id)).one()
    paid_at = utcnow()
    word = GatewayRefund(
        refund.gateway,
        refund.out_refund_no,
        RefundStatus.SUCCESS,
        "SUCCESS",
        12_800,
        success_time=paid_at,
    )
    assert apply_gateway_result(database, word)
    newest = read_history_page(database, order.id).entries[0]
    assert newest.kind == "refund_paid" and newest.amount_fen == 12_800 and newest.at == paid_at
    # The money went back after the invoice was issued: finance records the 红冲.
    record_reversal(database, invoice_id, FINANCE)
    kinds = [entry.kind for entry in read_history_page(database, order.id).entries]
    assert kinds[:2] == ["invoice_reversed", "refund_paid"]
    assert kinds.index("invoice_issued") < kinds.index("invoice_requested")


def test_messages_replies_and_invoices_carry_no_staff_name(database):
    order = make_order(database, status=OrderStatus.PAID)
    request_id = leave_message(database, order.id, customer_of(order), "什么时候发货？")
    answer_request(database, request_id, SUPPORT, "今天下午发出")
    invoice_id = request_invoice(
        database,
        order.id,
        order.customer_id,
        InvoiceTitle(TitleKind.PERSONAL, "张三"),
        customer_of(order),
    )
    reject_invoice(database, invoice_id, "抬头有误", FINANCE)
    entries, _ = everything(database, order.id)
    details = {entry.kind: entry.detail for entry in entries}
    assert details["support_sent"] == "什么时候发货？"
    assert details["support_replied"] == "今天下午发出"
    assert details["invoice_rejected"] == "抬头有误"
    assert "invoice_requested" in details
    flat = repr(entries)
    assert "客服小李" not in flat and "财务小王" not in flat


def test_a_sent_sms_shows_the_masked_phone_and_an_unsent_one_is_not_shown(database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    with database.read() as session:
        queued = session.scalars(select(Notification).where(Notification.order_id == order.id))
        assert list(queued), "shipping queues an SMS"
    assert not [e for e in everything(database, order.id)[0] if e.kind == "notified"]
    send_queued_sms(database)
    [sent] = [e for e in everything(database, order.id)[0] if e.kind == "notified"]
    assert sent.detail == "138****8000" and sent.state == "shipped"


def test_paging_over_equal_timestamps_has_no_duplicate_and_no_gap(database):
    order = make_order(database, status=OrderStatus.DELIVERED)
    same = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    events = [
        CarrierEvent(same, TrackingStatus.IN_TRANSIT, "到达", location=f"第{number}站")
        for number in range(23)
    ]
    record_events(database, order.id, events)
    for _ in range(3):
        request_id = leave_message(database, order.id, customer_of(order), "同一刻", now=same)
        answer_request(database, request_id, SUPPORT, "同一刻回复", now=same)
    first = read_history_page(database, order.id)
    assert len(first.entries) == PAGE_SIZE and first.next_cursor is not None
    entries, pages = everything(database, order.id)
    keys = [(entry.source, entry.row_id) for entry in entries]
    assert len(keys) == len(set(keys))
    # 23 carrier events, 3 messages, 3 replies, and the order's own five milestones.
    assert len(entries) == 23 + 3 + 3 + 5
    assert pages == -(-len(entries) // 5)
    cursors = [(entry.at, entry.source, entry.row_id) for entry in entries]
    assert cursors == sorted(cursors, reverse=True)


def test_a_cursor_that_is_not_ours_starts_from_the_newest():
    for text in (
        None,
        "",
        "abc",
        "1_2",
        "1_2_3_4",
        "-1_2_3",
        "1.5_2_3",
        "９_1_1",
        "9" * 40 + "_1_1",
        "1_1_2147483648",  # more than a PostgreSQL INTEGER id
    ):
        assert Cursor.decode(text) is None
    cursor = Cursor(utcnow(), 9, 12)
    assert Cursor.decode(cursor.encode()) == cursor


def test_a_cancelled_order_reads_cancelled_after_placed(database):
    order = make_order(database, status=OrderStatus.CANCELLED)
    kinds = [entry.kind for entry in read_history_page(database, order.id).entries]
    assert kinds == ["cancelled", "placed"]


def test_a_voided_label_and_its_events_are_not_shown(database):
    order = make_order(database, status=OrderStatus.SHIPPED)
    record_events(database, order.id, [CarrierEvent(utcnow(), TrackingStatus.PICKED_UP, "已揽收")])
    assert [e for e in read_history_page(database, order.id).entries if e.kind == "carrier"]
    with database.write() as session:
        # Voiding goes through the carrier's cancel API; only its outcome matters here.
        session.execute(
            update(Shipment).where(Shipment.order_id == order.id).values(voided_at=utcnow())
        )
    assert not [e for e in read_history_page(database, order.id).entries if e.kind == "carrier"]


def return_of(database, order):
    with database.read() as session:
        line_id = session.scalars(select(OrderLine.id).where(OrderLine.order_id == order.id)).one()
    file_return(
        database,
        order.id,
        order.customer_id,
        {line_id: 1},
        RefundType.RETURN_AND_REFUND,
        "no_reason_7_days",
        "",
        [],
        RefundRules(),
        customer_of(order),
        review_only=True,
    )
    with database.read() as session:
        return session.scalars(
            select(ReturnRequest).where(ReturnRequest.order_id == order.id)
        ).one()


def test_a_refused_return_reads_with_the_reason_given_to_the_customer(database):
    order = make_order(database, status=OrderStatus.DELIVERED)
    request = return_of(database, order)
    review_return(database, request.id, False, REVIEWER, reason="商品已拆封使用")
    [decided] = [
        e for e in read_history_page(database, order.id).entries if e.kind == "return_decided"
    ]
    assert decided.state == "rejected" and decided.detail == "商品已拆封使用"
    assert "客服小张" not in repr(decided)


def test_the_return_parcel_is_shown_with_its_waybill(database):
    order = make_order(database, status=OrderStatus.DELIVERED)
    request = return_of(database, order)
    review_return(database, request.id, True, REVIEWER)
    send_back(
        database, request.id, order.customer_id, "yuantong", "yt 1234 5678", customer_of(order)
    )
    newest = read_history_page(database, order.id).entries[0]
    assert newest.kind == "return_parcel"
    assert (newest.carrier_code, newest.tracking_no) == ("yuantong", "YT12345678")


def test_a_customer_cancel_reads_with_its_refund_after_the_order_step(database):
    order = make_order(database, status=OrderStatus.PAID)
    buyer = Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}")
    cancel_order(database, None, order.id, buyer, "too_slow")  # type: ignore[arg-type]
    entries = read_history_page(database, order.id).entries
    cancel = next(entry for entry in entries if entry.kind == "cancel_requested")
    assert cancel.state == "too_slow" and cancel.amount_fen == order.paid_fen
    assert {"cancelled", "paid", "placed"} <= {entry.kind for entry in entries}
