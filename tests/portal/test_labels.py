"""Words for statuses: an order's status and a shipment's status each have their own."""

import re

import pytest

from backend.logistics.status import TrackingStatus
from backend.orders.lifecycle import OrderStatus
from backend.refunds.lifecycle import ReturnStatus
from backend.refunds.views import Step
from backend.staff.models import Role
from backend.tracking_page import ProgressStep
from portal.i18n import set_locale
from portal.labels import label
from tests.factories import make_order
from tests.portal.helpers import open_short_link, staff_login


def headline(html: str) -> str:
    return re.search(r'<p class="headline">([^<]*)</p>', html).group(1).strip()


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (OrderStatus.CANCELLED, "已取消"),
        (OrderStatus.PAID, "已付款"),
        (OrderStatus.DELIVERED, "已签收"),
    ],
)
def test_the_tracking_page_names_the_order_status_not_a_shipment_or_step_word(
    client, database, status, words
):
    order = make_order(database, status=status)
    open_short_link(client, database, order.id)
    html = client.get(f"/orders/{order.public_no}").text
    assert headline(html) == words
    assert "运单已取消" not in html


def test_a_cancelled_order_is_cancelled_in_english_too(client, database):
    order = make_order(database, status=OrderStatus.CANCELLED)
    open_short_link(client, database, order.id)
    html = client.get(f"/language?to=en&next=/orders/{order.public_no}").text
    assert headline(html) == "Cancelled"
    assert "Shipment cancelled" not in html


def test_the_staff_order_list_calls_a_cancelled_order_cancelled(client, database):
    order = make_order(database, status=OrderStatus.CANCELLED)
    staff_login(client, database, Role.SUPPORT)
    html = client.get("/admin/orders", params={"q": order.public_no}).text
    assert '<span class="pill  pill-cancelled">已取消</span>' in html
    assert "运单已取消" not in html


@pytest.mark.parametrize(
    ("member", "words"),
    [
        (OrderStatus.CANCELLED, "Cancelled"),
        (TrackingStatus.CANCELLED, "Shipment cancelled"),
        (OrderStatus.PAID, "Paid"),
        (ProgressStep.PAID, "Payment"),
        (OrderStatus.DELIVERED, "Delivered"),
        (TrackingStatus.DELIVERED, "Signed for"),
        (OrderStatus.REFUNDED, "Refunded"),
        (ReturnStatus.REFUNDED, "Refund successful"),
        (Step.REFUNDED, "Refunded"),
    ],
)
def test_members_of_two_enums_that_share_a_value_keep_their_own_words(member, words):
    set_locale("en")
    try:
        assert label(member) == words
    finally:
        set_locale("zh_CN")
