"""Enum columns load as their enum: a value read back in a fresh session is the member itself."""

from __future__ import annotations

import sys
import typing
from datetime import date, timedelta
from enum import StrEnum
from types import UnionType

import httpx
import pytest
from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.breaker import BreakerChange, BreakerState
from backend.breaker_states import StateWrite, write_state
from backend.clock import utcnow
from backend.db import Base, EnumText
from backend.demo import seed_operations, seed_orders, seed_staff
from backend.exchanges.rules import ExchangeRules
from backend.exchanges.service import request_exchange
from backend.fulfilment.confirmations import confirm_shipment
from backend.funnel import FunnelStep, add_counts
from backend.goodwill.service import request_goodwill
from backend.invoices.models import TitleKind
from backend.invoices.service import InvoiceTitle, request_invoice
from backend.logistics.models import Shipment
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.notifications.consents import record_consent
from backend.notifications.models import ConsentKind
from backend.orders import inventory, reconciliation
from backend.orders.address_changes import start_address_change
from backend.orders.address_policy import AddressRules
from backend.orders.channels import CanonicalAddress, CanonicalLine, CanonicalOrder
from backend.orders.channels.ship_confirm.registry import ShipConfirmers
from backend.orders.intake import IntakeRules, ingest_channel_order
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, OrderLine, SalesChannel
from backend.orders.service import NewAddress
from backend.orders.shops import default_shops, sync_shops
from backend.orders.warehouses import WarehouseFields, save_warehouse, set_stock
from backend.refunds.cancellation import cancel_order
from backend.refunds.in_transit import request_in_transit_refund
from backend.refunds.photo_uploads import store_photo
from backend.refunds.photos import PhotoStore
from backend.refunds.rules import RefundRules, RefundType
from backend.refunds.service import file_return
from backend.staff.accounts import end_session, log_in
from backend.staff.models import Role
from backend.support.lifecycle import NoteKind
from backend.support.notes import add_note
from backend.support.service import leave_message
from tests.exchange_setup import customer_of, delivered_shirt_order, seed_shirts
from tests.factories import SYSTEM, make_order
from tests.photo_images import photo_jpeg


def _enum_of(annotation: object) -> type[StrEnum] | None:
    """OrderStatus for Mapped[OrderStatus] and Mapped[OrderStatus | None]; None otherwise."""
    for argument in typing.get_args(annotation):
        if isinstance(argument, UnionType) or typing.get_origin(argument) is typing.Union:
            found = _enum_of(argument)
        else:
            found = (
                argument if isinstance(argument, type) and issubclass(argument, StrEnum) else None
            )
        if found is not None:
            return found
    return None


def enum_attributes(model: type[Base]) -> dict[str, type[StrEnum]]:
    namespace = vars(sys.modules[model.__module__])
    columns = set(model.__mapper__.columns.keys())
    found = {
        name: _enum_of(eval(text, namespace))  # noqa: S307 (the model's own annotation)
        for name, text in model.__annotations__.items()
        if name in columns
    }
    return {name: enum for name, enum in found.items() if enum is not None}


MODELS = sorted((mapper.class_ for mapper in Base.registry.mappers), key=lambda m: m.__name__)
ENUM_MODELS = [model for model in MODELS if enum_attributes(model)]


def test_the_models_have_enum_columns_to_check():
    names = {model.__name__ for model in ENUM_MODELS}
    assert {"Order", "AddressChange", "ReturnRequest", "Shipment", "Job", "StaffUser"} <= names


@pytest.mark.parametrize("model", ENUM_MODELS, ids=lambda m: m.__name__)
def test_every_enum_annotated_column_is_stored_with_the_enum_type(model):
    for name, enum in enum_attributes(model).items():
        column_type = model.__mapper__.columns[name].type
        assert isinstance(column_type, EnumText), f"{model.__name__}.{name} is {column_type!r}"
        assert column_type.enum is enum


def _fill_every_table(database, tmp_path) -> None:
    """The demo, plus what it leaves empty, all through the services."""
    seed_orders(database, rules=IntakeRules())
    seed_operations(database, IntakeRules())
    name, _role, password = seed_staff(database)[0]
    # One session that ended, so ended_because holds a value too.
    login = log_in(database, name, password, "127.0.0.1", "test", timedelta(hours=1))
    end_session(database, login.session_token, login.identity.actor("127.0.0.1"))
    paid = make_order(database, status=OrderStatus.PAID)
    cancelled = make_order(database, status=OrderStatus.PAID)
    cancel_order(database, None, cancelled.id, SYSTEM, "changed_mind")  # type: ignore[arg-type]
    address = NewAddress("李四", "13912345678", "浙江省", "杭州市", "西湖区", "文三路100号")
    start_address_change(database, paid.id, address, SYSTEM, AddressRules())
    inventory.save_sku(database, "ENUM-1", "测试商品", 5, 100, SYSTEM)
    inventory.map_channel_sku(database, str(SalesChannel.JD), "JD-ENUM-1", "ENUM-1", SYSTEM)
    reconciliation.reconcile_export(
        database,
        str(SalesChannel.TAOBAO),
        date.today(),
        "订单号,状态,实付金额\nX1,已付款,1.00\n",
        SYSTEM,
    )
    delivered = make_order(database, status=OrderStatus.DELIVERED)
    with database.read() as session:
        line_id = session.scalars(
            select(OrderLine.id).where(OrderLine.order_id == delivered.id)
        ).one()
    photo_id = store_photo(database, PhotoStore(tmp_path), delivered.id, photo_jpeg(seed=7))
    # A small refund-only request is approved by the rules: a refund row is written too.
    file_return(
        database,
        delivered.id,
        delivered.customer_id,
        {line_id: 1},
        RefundType.REFUND_ONLY,
        "missing_item",
        "少了一盒",
        [photo_id],
        RefundRules(),
        SYSTEM,
    )
    shops = default_shops("shopify-secret", {})
    sync_shops(database, shops, SYSTEM)
    with database.read() as session:
        shipment_id = session.scalars(
            select(Shipment.id).where(Shipment.order_id == delivered.id)
        ).one()
    # The default Taobao shop has no API credentials: refused, and recorded as such.
    confirm_shipment(database, ShipConfirmers(httpx.Client()), shops, {"shipment_id": shipment_id})
    _short_order_with_a_transfer(database)
    record_consent(database, paid.customer_id, "wx-enum", ["T-ENUM"], ConsentKind.ONE_TIME, SYSTEM)
    title = InvoiceTitle(TitleKind.PERSONAL, "张三")
    customer = Actor(ActorKind.CUSTOMER, str(paid.customer_id))
    request_invoice(database, paid.id, paid.customer_id, title, customer)
    writer = Actor(ActorKind.CUSTOMER, f"customer:{paid.public_no}", channel="sms-link")
    leave_message(database, paid.id, writer, "什么时候发货？")
    _an_exchange(database)
    _refund_asked_in_transit(database)
    # 补偿 above the limit waits for finance: a goodwill row without a gateway call.
    support = Actor(ActorKind.STAFF, "enum-support", role=Role.SUPPORT)
    request_goodwill(database, paid.id, 100, "补偿运费", "enum-goodwill-1", support, limit_fen=0)
    # A breaker that opened, as a process writes it (its on_change, through the writer).
    write_state(database, StateWrite(BreakerChange("sf", BreakerState.OPEN, 5), "enum:1", utcnow()))
    add_note(database, paid.id, NoteKind.COMPLAINT, "快递员态度差", support)
    add_counts(database, {(date(2026, 12, 3), FunnelStep.PAGE_VIEWED): 2})


def _an_exchange(database) -> None:
    """换货 of a delivered shirt: an exchange row and a replacement order held for the return."""
    skus = seed_shirts(database)
    order, line = delivered_shirt_order(database, "13911110009")
    request_exchange(
        database,
        order.id,
        order.customer_id,
        line,
        skus["TEE-L-WHITE"],
        customer_of(order),
        rules=ExchangeRules(),
        refund_rules=RefundRules(),
    )


def _refund_asked_in_transit(database) -> None:
    """A shipped order whose parcel the carrier has: the customer asks to refuse it (拒收)."""
    order = make_order(database, status=OrderStatus.SHIPPED)
    with database.read() as session:
        number = session.scalars(
            select(Shipment.tracking_no).where(Shipment.order_id == order.id)
        ).one()
    scan = CarrierEvent(utcnow(), TrackingStatus.IN_TRANSIT, "快件已到达【杭州转运中心】")
    record_tracking_update(
        database, "sandbox", number, [scan], source="test", full_history=False, actor=SYSTEM
    )
    customer = Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="portal")
    request_in_transit_refund(
        database, customer, order.id, method="refuse", reason="changed_mind", rules=RefundRules()
    )


def _short_order_with_a_transfer(database) -> None:
    """Two units wanted, one in each of two 华东 warehouses: a transfer proposal."""
    save_warehouse(database, WarehouseFields("EN-A", "甲仓", "浙江省"), SYSTEM)
    save_warehouse(database, WarehouseFields("EN-B", "乙仓", "上海市"), SYSTEM)
    inventory.save_sku(database, "ENUM-2", "测试商品二", 1, None, SYSTEM, warehouse="EN-A")
    set_stock(database, "EN-B", "ENUM-2", 1, SYSTEM)
    address = CanonicalAddress("钱二", "13911110003", "浙江省", "杭州市", "西湖区", "文三路2号")
    order = CanonicalOrder(
        channel=SalesChannel.JD,
        channel_order_no="JD-ENUM-SHORT",
        status=OrderStatus.PAID,
        raw_status="PAID",
        buyer_name="钱二",
        buyer_phone="13911110003",
        address=address,
        lines=(CanonicalLine("ENUM-2", "测试商品二", 2, 100),),
        total_fen=200,
        placed_at=None,
        paid_at=None,
        updated_at=None,
    )
    assert ingest_channel_order(database, order, "{}", IntakeRules(), SYSTEM).hold is not None


def test_values_read_back_in_a_fresh_session_are_enum_members(database, tmp_path):
    _fill_every_table(database, tmp_path)
    for model in ENUM_MODELS:
        attributes = enum_attributes(model)
        with database.read() as session:
            rows = session.scalars(select(model)).all()
        assert rows, f"no {model.__name__} row to check"
        for row in rows:
            for name, enum in attributes.items():
                value = getattr(row, name)
                assert value is None or type(value) is enum, (model.__name__, name, value)


def test_core_selects_of_enum_columns_return_members_too(database):
    make_order(database, status=OrderStatus.PAID)
    with database.read() as session:
        status, channel = session.execute(select(Order.status, Order.channel)).one()
    assert type(status) is OrderStatus and status is OrderStatus.PAID
    assert type(channel) is SalesChannel


def test_a_value_outside_the_enum_is_refused_when_written(database):
    order = make_order(database, status=OrderStatus.PAID)
    with pytest.raises(Exception, match="not a valid OrderStatus"), database.write() as session:
        session.get(Order, order.id).status = "teleported"
    with database.read() as session:
        assert session.get(Order, order.id).status is OrderStatus.PAID
