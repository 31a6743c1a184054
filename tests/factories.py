"""Test data: orders in a given state, shipments, staff.

place_order, create_label and create_shipment write rows directly, for tests and benches
that need many orders fast; production orders come in through intake (backend/orders/
intake.py) and parcels through record_waybill (backend/fulfilment/waybills.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta

from sqlalchemy import select

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.fulfilment.waybills import WaybillSource, record_waybill
from backend.jobs.worker import Worker
from backend.logistics.service import add_outbound_parcel, ship_parcel
from backend.notifications.base import SendResult
from backend.notifications.outbox import SEND, NotificationConfig, send_notification
from backend.orders.lifecycle import OrderAction, OrderStatus
from backend.orders.models import Order, OrderLine, PaymentMethod, SalesChannel
from backend.orders.service import (
    NewAddress,
    NewLine,
    NewOrder,
    OrderNotFound,
    add_address_version,
    apply_action,
    get_or_create_customer,
    new_public_number,
)

SYSTEM = Actor(ActorKind.SYSTEM, "test", channel="test")
_numbers = itertools.count(1)

PATH_TO: dict[OrderStatus, tuple[OrderAction, ...]] = {
    OrderStatus.PENDING_PAYMENT: (),
    OrderStatus.PAID: (OrderAction.PAY,),
    OrderStatus.PICKING: (OrderAction.PAY, OrderAction.START_PICKING),
    OrderStatus.PACKED: (OrderAction.PAY, OrderAction.START_PICKING, OrderAction.PACK),
    OrderStatus.CANCELLED: (OrderAction.CANCEL,),
}


def place_order(database: Database, new: NewOrder, actor: Actor) -> int:
    placed_at = new.placed_at or utcnow()
    with database.write() as session:
        customer = get_or_create_customer(session, new.customer_name, new.customer_phone)
        order = Order(
            public_no=new_public_number(placed_at),
            channel=new.channel,
            channel_order_no=new.channel_order_no,
            customer_id=customer.id,
            status=OrderStatus.PENDING_PAYMENT,
            status_changed_at=placed_at,
            total_fen=sum(line.quantity * line.unit_price_fen for line in new.lines),
            payment_method=new.payment_method,
            risk_flag=new.risk_flag,
            placed_at=placed_at,
            created_at=placed_at,
        )
        session.add(order)
        session.flush()
        for line in new.lines:
            session.add(OrderLine(order_id=order.id, **line.__dict__))
        add_address_version(session, order, new.address, actor, at=placed_at)
        audit.record(
            session,
            actor,
            "order.placed",
            subject="order",
            subject_id=order.id,
            order_id=order.id,
            at=placed_at,
            after={
                "channel": str(new.channel),
                "channel_order_no": new.channel_order_no,
                "total_fen": order.total_fen,
            },
        )
        return order.id


def create_label(
    database: Database,
    order_id: int,
    carrier_code: str,
    tracking_no: str,
    actor: Actor,
    at: datetime | None = None,
    origin_province: str | None = None,
    *,
    shipped: bool = False,
) -> int:
    """The warehouse printed the carrier's label (电子面单); the order ships at pickup."""
    at = at or utcnow()
    with database.write() as session:
        order = session.get(Order, order_id, with_for_update=True)
        if order is None:
            raise OrderNotFound(order_id)
        shipment = add_outbound_parcel(
            session, order, carrier_code, tracking_no, actor, at, origin_province
        )
        if shipped:
            ship_parcel(session, order, shipment, actor, at)
        return shipment.id


def create_shipment(
    database: Database,
    order_id: int,
    carrier_code: str,
    tracking_no: str,
    actor: Actor,
    at: datetime | None = None,
    origin_province: str | None = None,
) -> int:
    """Hand the packed order to a carrier: the shipment row and the SHIP transition together."""
    return create_label(
        database, order_id, carrier_code, tracking_no, actor, at, origin_province, shipped=True
    )


def make_order(
    database: Database,
    *,
    phone: str = "13800138000",
    name: str = "张三",
    status: OrderStatus = OrderStatus.PAID,
    lines: list[NewLine] | None = None,
    channel: SalesChannel = SalesChannel.TAOBAO,
    placed_at: datetime | None = None,
    payment_method: PaymentMethod = PaymentMethod.WECHAT_PAY,
) -> Order:
    """An order in `status`, reached through the lifecycle. Returns a detached snapshot."""
    number = next(_numbers)
    new = NewOrder(
        channel=channel,
        channel_order_no=f"T{number:06d}",
        customer_name=name,
        customer_phone=phone,
        address=NewAddress(name, phone, "浙江省", "杭州市", "西湖区", "文三路100号"),
        lines=lines or [NewLine("TEA-1", "西湖龙井 250g", 2, 12_800)],
        payment_method=payment_method,
        placed_at=placed_at or utcnow() - timedelta(hours=1),
    )
    order_id = place_order(database, new, SYSTEM)
    for action in PATH_TO.get(status, PATH_TO[OrderStatus.PACKED]):
        apply_action(database, order_id, action, SYSTEM)
    if status not in PATH_TO:
        create_shipment(database, order_id, "sandbox", f"SB{number:010d}", SYSTEM)
        follow = {
            OrderStatus.DELIVERED: (OrderAction.DELIVER,),
            OrderStatus.COMPLETED: (OrderAction.DELIVER, OrderAction.COMPLETE),
        }.get(status, ())
        for action in follow:
            apply_action(database, order_id, action, SYSTEM)
    with database.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        session.expunge(order)
        return order


# Three things bought together, for orders that leave in several parcels.
THREE_LINES = [
    NewLine("TEA-LJ-250", "明前西湖龙井 250g", 1, 26_800),
    NewLine("CUP-GLASS", "双层玻璃茶杯", 2, 5_900),
    NewLine("TRAY-BAMBOO", "竹制茶盘（大号）", 1, 15_800),
]


def line_ids(database: Database, order_id: int) -> dict[str, int]:
    """The order's line ids by SKU."""
    with database.read() as session:
        rows = session.execute(
            select(OrderLine.sku, OrderLine.id).where(OrderLine.order_id == order_id)
        )
        return {sku: line_id for sku, line_id in rows}


def ship_in_parcels(
    database: Database,
    order_id: int,
    parcels: Sequence[tuple[str, str, Mapping[str, int]]],
    *,
    at: datetime | None = None,
) -> list[int]:
    """Record one waybill per (carrier, number, {sku: units}), as staff typing them would.

    Returns the shipment ids, oldest first.
    """
    ids = line_ids(database, order_id)
    return [
        record_waybill(
            database,
            order_id,
            carrier,
            number,
            SYSTEM,
            source=WaybillSource.MANUAL,
            lines={ids[sku]: units for sku, units in units_by_sku.items()},
            at=at,
        ).shipment_id
        for carrier, number, units_by_sku in parcels
    ]


class AcceptingSms:
    """An SMS provider that accepts every message: the outbox's real send path, in-process."""

    def send(
        self, phone: str, template_code: str, template_params: Mapping[str, str], out_id: str
    ) -> SendResult:
        return SendResult("test", out_id, f"biz-{out_id}")


def send_queued_sms(database: Database) -> None:
    """Run the outbox's queued sends through the worker, as production does, at any hour."""
    config = NotificationConfig(
        sms=AcceptingSms(),
        sms_templates={"shipped": "SMS_SHIPPED", "delivered": "SMS_DELIVERED"},
        link_base="https://t.example.cn",
        link_lifetime=timedelta(days=30),
        quiet_start=time(0),
        quiet_end=time(0),
    )
    Worker(database, {SEND: lambda db, p: send_notification(db, config, p)}).run_until_idle()
