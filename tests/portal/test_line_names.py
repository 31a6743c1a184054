"""Line names: the channel's own title for the customer, and a clear mark for staff."""

import re

from sqlalchemy import select

from backend.demo import UNMAPPED_TITLE, seed_operations
from backend.orders.intake import IntakeRules
from backend.orders.inventory import save_sku
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import ChannelSku, Order, SalesChannel
from backend.orders.service import NewLine
from backend.staff.models import Role
from tests.factories import SYSTEM, make_order
from tests.portal.helpers import open_short_link, staff_login

UNMAPPED = re.compile(r'<span class="pill pill-unmapped"[^>]*>未建档商品</span>')


def demo_order_id(database, channel_order_no: str) -> int:
    with database.read() as session:
        return session.scalar(select(Order.id).where(Order.channel_order_no == channel_order_no))


def test_a_channel_line_with_an_unknown_sku_shows_the_channels_title_to_the_customer(
    client, database
):
    # The demo's Taobao order whose SKU is not in the master.
    seed_operations(database, IntakeRules())
    order_id = demo_order_id(database, "TB-DEMO-SKU-1")
    with database.read() as session:
        order = session.get(Order, order_id)
        assert order.hold_reason == "unknown_sku"
        public_no = order.public_no
    open_short_link(client, database, order_id)
    for path in (f"/orders/{public_no}", "/orders"):
        html = client.get(path).text
        assert "未建档" not in html, path
        assert UNMAPPED_TITLE in html, path  # the title the buyer saw on Taobao


def test_a_line_without_any_name_is_called_an_item(client, database):
    order = make_order(
        database, status=OrderStatus.DELIVERED, lines=[NewLine("GIFT-1", "", 1, 5_000)]
    )
    open_short_link(client, database, order.id)
    tracking = client.get(f"/orders/{order.public_no}").text
    assert '<span class="line-name">商品</span>' in tracking
    assert re.search(r'<span class="row-item">\s*商品\s*</span>', client.get("/orders").text)
    form = client.get(f"/orders/{order.public_no}/return").text
    assert re.search(r'<label class="line-pick"[^>]*><span>商品 ', form)


def test_staff_see_which_lines_are_not_in_the_sku_master_until_they_are(client, database):
    order = make_order(database, lines=[NewLine("TB-SKU-77", "紫砂提梁壶 手工 280ml", 1, 5_990)])
    staff_login(client, database, Role.SUPPORT)
    html = client.get(f"/admin/orders/{order.id}").text
    assert len(UNMAPPED.findall(html)) == 1 and "紫砂提梁壶 手工 280ml" in html
    sku_id = save_sku(database, "TEA-POT-280", "紫砂提梁壶 280ml", 5, None, SYSTEM)
    with database.write() as session:
        session.add(ChannelSku(channel=SalesChannel.TAOBAO, channel_sku="TB-SKU-77", sku_id=sku_id))
    assert not UNMAPPED.search(client.get(f"/admin/orders/{order.id}").text)
