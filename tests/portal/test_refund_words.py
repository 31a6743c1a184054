"""The refund progress page in words that fit the request: what is refunded, where it went."""

import re

from sqlalchemy import select

from backend.orders.lifecycle import OrderStatus
from backend.orders.models import PaymentMethod
from backend.orders.service import NewLine
from backend.refunds.gateways.base import GatewayRefund, RefundStatus
from backend.refunds.models import Refund
from backend.refunds.payouts import apply_gateway_result
from backend.refunds.service import refund_settled
from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import csrf_token, open_short_link, staff_login
from tests.portal.test_return_routes import file, jpeg, photo_id, upload

TEA = NewLine("TEA-LJ-250", "明前西湖龙井 250g", 3, 4_000)


def delivered(client, database, **kwargs):
    order = make_order(database, status=OrderStatus.DELIVERED, lines=[TEA], **kwargs)
    open_short_link(client, database, order.id)
    return order


def progress_card(html: str) -> str:
    return re.search(r'<section id="return_progress".*?</section>', html, re.S).group(0)


def test_a_refund_only_request_in_review_says_nothing_is_sent_back_and_lists_its_items(
    client, database
):
    order = delivered(client, database)
    pid = photo_id(upload(client, order, jpeg()))
    card = progress_card(file(client, order, "refund_only", "quality", [pid], quantity=2).text)
    assert "需人工审核：" in card and "需人工核实照片" in card
    assert "检验" not in card and "寄回商品" not in card.replace("无需寄回商品", "")
    assert "无需寄回商品" in card
    assert re.search(r"明前西湖龙井 250g\s*</span>\s*<span[^>]*>×2</span>", card)
    assert "仅退款" in card


def test_a_return_in_review_says_the_item_is_inspected_and_to_keep_it_until_approved(
    client, database
):
    order = delivered(client, database)
    pid = photo_id(upload(client, order, jpeg()))
    card = progress_card(file(client, order, "return_and_refund", "quality", [pid]).text)
    assert "商品需要检验" in card and "审核通过前请保留商品" in card
    assert re.search(r"明前西湖龙井 250g\s*</span>\s*<span[^>]*>×1</span>", card)
    assert "退货退款" in card


def test_staff_are_told_why_a_refund_only_request_waits_for_them_in_the_same_words(
    client, database
):
    order = delivered(client, database)
    pid = photo_id(upload(client, order, jpeg()))
    file(client, order, "refund_only", "quality", [pid])
    staff_login(client, database, Role.SUPPORT)
    queue = client.get("/admin/returns").text
    assert "需人工核实照片" in queue and "商品需要检验" not in queue


def settle(database, account=None, gateway_id=None):
    """The gateway's word that the money is back (answer, notify or query), and its job."""
    with database.read() as session:
        refund = session.scalars(select(Refund)).one()
    apply_gateway_result(
        database,
        GatewayRefund(
            refund.gateway,
            refund.out_refund_no,
            RefundStatus.SUCCESS,
            "SUCCESS",
            refund.amount_fen,
            gateway_refund_id=gateway_id,
            received_account=account,
        ),
    )
    refund_settled(database, {"refund_id": refund.id})
    return refund


def test_a_small_refund_paid_by_alipay_says_where_the_money_went_and_gives_our_reference(
    client, database
):
    order = delivered(client, database, payment_method=PaymentMethod.ALIPAY)
    pid = photo_id(upload(client, order, jpeg()))
    page = file(client, order, "refund_only", "damaged", [pid])
    assert "已自动通过" in page.text
    refund = settle(database)
    card = progress_card(client.get(page.url).text)
    assert "退款成功" in card
    assert "已通过支付宝退回至原支付账户。" in card
    assert f"退款单号 {refund.out_refund_no}" in card


def test_a_partial_refund_paid_by_wechat_pay_is_worded_the_same_way(client, database):
    coat = NewLine("COAT-1", "羊毛大衣", 1, 35_000)
    order = make_order(database, status=OrderStatus.DELIVERED, lines=[coat])
    open_short_link(client, database, order.id)
    pid = photo_id(upload(client, order, jpeg()))
    progress_url = file(client, order, "refund_only", "damaged", [pid]).url
    staff_login(client, database, Role.SUPPORT)
    return_id = re.search(r"/admin/returns/(\d+)", client.get("/admin/returns").text).group(1)
    client.post(
        f"/admin/returns/{return_id}",
        data={
            "verdict": "approve",
            "amount_yuan": "100",
            "csrf_token": csrf_token(client, "/admin/returns"),
        },
    )
    wechat_id = "503000000120261201000000000123"  # WeChat's refund_id: 30 digits
    refund = settle(database, account="支付用户零钱", gateway_id=wechat_id)
    card = progress_card(client.get(progress_url).text)
    assert "退款成功" in card and "¥100.00" in card
    assert "已通过微信支付退回至微信零钱。" in card
    assert f"退款单号 {refund.out_refund_no}" in card
    assert f"微信支付退款单号 {wechat_id}" in card
    assert "支付用户零钱" not in card
