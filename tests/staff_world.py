"""A small shop with something for every staff power, and a snapshot of every table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.fulfilment.confirmations import confirm_shipment
from backend.fulfilment.models import ConfirmationStatus, ShipConfirmationRecord
from backend.fulfilment.waybills import WaybillSource, record_waybill
from backend.jobs.models import Job, JobStatus
from backend.jobs.queue import GiveUp, enqueue
from backend.jobs.worker import Worker
from backend.logistics.models import Shipment
from backend.orders import address_changes as changes
from backend.orders.address_policy import AddressRules
from backend.orders.channels import CanonicalAddress, CanonicalLine, CanonicalOrder
from backend.orders.channels.ship_confirm.registry import ShipConfirmers
from backend.orders.intake import IntakeRules, ingest_channel_order
from backend.orders.inventory import save_sku
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import OrderLine, SalesChannel, TransferProposal
from backend.orders.service import NewAddress
from backend.orders.shops import default_shops
from backend.orders.warehouses import WarehouseFields, save_warehouse, set_stock
from backend.refunds.cancellation import cancel_order
from backend.refunds.models import OrderCancellation
from backend.refunds.return_parcels import send_back
from backend.refunds.rules import RefundRules, RefundType
from backend.refunds.service import file_return
from backend.schema import metadata
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from backend.support.lifecycle import NoteKind
from backend.support.notes import add_note
from backend.support.service import leave_message
from tests.factories import SYSTEM, make_order

CUSTOMER_ACTOR = Actor(ActorKind.CUSTOMER, "buyer", channel="sms-link")
WORLD_SUPPORT = Actor(ActorKind.STAFF, "world-support", channel="test", role=Role.SUPPORT)
# A request after the free window, so that it waits for staff.
REQUEST_RULES = AddressRules(free_edit_window=timedelta(0))
IMPORT_CSV = (
    "订单号,收货人,手机,省,市,区,详细地址,商品编码,商品名称,数量,单价(元)\n"
    "PHONE-1,张三,13800138000,浙江省,杭州市,西湖区,文三路100号,TEA-1,龙井,1,128.00\n"
).encode()


def waybill_csv(world: World) -> bytes:
    """A waybill file for the paid order: allowed, it becomes a parcel (a change to see)."""
    return f"订单号,快递公司,运单号\n{world.paid_public_no},顺丰,SF1234567890123\n".encode()


@dataclass(frozen=True)
class World:
    paid_order_id: int
    paid_public_no: str
    paid_channel_order_no: str
    held_order_id: int
    change_id: int
    return_id: int
    shipment_id: int  # the delivered order's parcel
    dead_job_id: int
    dead_job_kind: str
    short_order_id: int  # held out of stock, with a transfer proposal from SH to HZ
    transfer_id: int
    confirmation_id: int  # a ship confirmation the channel refused
    parcel_return_id: int  # a return whose parcel is on its way back
    support_request_id: int  # a customer's message waiting for an answer
    cancellation_id: int  # a packed order cancelled: its parcel waits to be unpacked
    cancellable_order_id: int  # a paid order nobody touches but the staff cancel
    paid_customer_id: int  # the paid order's customer, for the customer page
    complaint_id: int  # an open complaint on the paid order's customer
    sku_code: str = "TEA-1"


def _held_order(database: Database) -> int:
    order = CanonicalOrder(
        channel=SalesChannel.JD,
        channel_order_no="JD-HELD-1",
        status=OrderStatus.PAID,
        raw_status="PAID",
        buyer_name="赵敏",
        buyer_phone="13911110002",
        address=CanonicalAddress("赵敏", "13911110002", "浙江省", "杭州市", "西湖区", "文三路1号"),
        lines=(CanonicalLine("TEA-1", "龙井", 1, 12_800),),
        total_fen=12_800,
        placed_at=None,
        paid_at=None,
        updated_at=None,
    )
    channel = Actor(ActorKind.CHANNEL, "jd", channel="webhook")
    held = ingest_channel_order(database, order, "{}", IntakeRules(high_value_fen=100), channel)
    assert held.order_id is not None and held.hold is not None
    return held.order_id


def _warehouses(database: Database) -> None:
    """Hangzhou first (stock counted without a warehouse goes there), Shanghai beside it."""
    save_warehouse(database, WarehouseFields("HZ", "杭州仓", "浙江省", priority=1), SYSTEM)
    save_warehouse(database, WarehouseFields("SH", "上海仓", "上海市", priority=2), SYSTEM)


def _short_order(database: Database) -> tuple[int, int]:
    """Three units wanted, two in each warehouse: held, and SH could send HZ the third."""
    save_sku(database, "TEA-2", "碧螺春 250g", 2, None, SYSTEM)
    set_stock(database, "SH", "TEA-2", 2, SYSTEM)
    order = CanonicalOrder(
        channel=SalesChannel.JD,
        channel_order_no="JD-SHORT-1",
        status=OrderStatus.PAID,
        raw_status="PAID",
        buyer_name="钱二",
        buyer_phone="13911110003",
        address=CanonicalAddress("钱二", "13911110003", "浙江省", "杭州市", "西湖区", "文三路2号"),
        lines=(CanonicalLine("TEA-2", "碧螺春", 3, 6_800),),
        total_fen=20_400,
        placed_at=None,
        paid_at=None,
        updated_at=None,
    )
    channel = Actor(ActorKind.CHANNEL, "jd", channel="webhook")
    held = ingest_channel_order(database, order, "{}", IntakeRules(), channel)
    assert held.order_id is not None and held.hold is not None
    with database.read() as session:
        transfer_id = session.scalars(
            select(TransferProposal.id).where(TransferProposal.order_id == held.order_id)
        ).one()
    return held.order_id, transfer_id


def _pending_change(database: Database, order_id: int) -> int:
    address = NewAddress("李四", "13912345678", "浙江省", "杭州市", "西湖区", "文三路200号")
    started = changes.start_address_change(
        database, order_id, address, CUSTOMER_ACTOR, REQUEST_RULES, make_code=lambda: "123456"
    )
    changes.confirm_address_change(
        database, order_id, started.change_id, "123456", CUSTOMER_ACTOR, REQUEST_RULES
    )
    return started.change_id


def _return_in_review(database: Database) -> int:
    delivered = make_order(database, status=OrderStatus.DELIVERED)
    with database.read() as session:
        line_id = session.scalars(
            select(OrderLine.id).where(OrderLine.order_id == delivered.id)
        ).one()
    filed = file_return(
        database,
        delivered.id,
        delivered.customer_id,
        {line_id: 2},  # ¥256: above the ¥200 the rules approve alone
        RefundType.RETURN_AND_REFUND,
        "no_reason_7_days",
        "",
        [],
        RefundRules(),
        CUSTOMER_ACTOR,
    )
    return filed.return_id


def _return_parcel_on_its_way(database: Database) -> int:
    """¥128 approved by the rules; the customer has posted the item back."""
    delivered = make_order(database, status=OrderStatus.DELIVERED)
    with database.read() as session:
        line_id = session.scalars(
            select(OrderLine.id).where(OrderLine.order_id == delivered.id)
        ).one()
    filed = file_return(
        database,
        delivered.id,
        delivered.customer_id,
        {line_id: 1},
        RefundType.RETURN_AND_REFUND,
        "no_reason_7_days",
        "",
        [],
        RefundRules(),
        CUSTOMER_ACTOR,
    )
    send_back(
        database,
        filed.return_id,
        delivered.customer_id,
        "zhongtong",
        "ZT7519990001",
        CUSTOMER_ACTOR,
    )
    return filed.return_id


def _dead_job(database: Database) -> tuple[int, str]:
    """A job that gave up, through the real worker: what the dead-jobs page lists."""

    def never(_database: Database, _payload: dict[str, object]) -> None:
        raise GiveUp("the carrier refused this waybill for good")

    with database.write() as session:
        enqueue(session, "carrier.cancel_label", {"shipment_id": 1})
    Worker(database, {"carrier.cancel_label": never}).run_until_idle()
    with database.read() as session:
        job_id = session.scalars(select(Job.id).where(Job.status == JobStatus.DEAD)).one()
    return job_id, "carrier.cancel_label"


def _refused_confirmation(database: Database) -> int:
    """Through the real job handler: the default Taobao shop has no API credentials."""
    order = make_order(database, status=OrderStatus.PACKED)
    shipment_id = record_waybill(
        database, order.id, "yuantong", "YT0000000000001", SYSTEM, source=WaybillSource.ERP
    ).shipment_id
    with httpx.Client() as http:
        shops = default_shops("", {})
        confirm_shipment(database, ShipConfirmers(http), shops, {"shipment_id": shipment_id})
    with database.read() as session:
        return session.scalars(
            select(ShipConfirmationRecord.id).where(
                ShipConfirmationRecord.status == ConfirmationStatus.REFUSED
            )
        ).one()


def _cancelled_after_pack(database: Database) -> int:
    order = make_order(database, status=OrderStatus.PACKED)  # no label booked here to void
    customer = Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}")
    cancel_order(database, None, order.id, customer, "changed_mind")  # type: ignore[arg-type]
    with database.read() as session:
        return session.scalars(
            select(OrderCancellation.id).where(OrderCancellation.order_id == order.id)
        ).one()


# A member the staff page's actions aim at: disabling or resetting them changes staff_users.
STAFF_TARGET = "小刘"


def build_world(database: Database) -> World:
    _warehouses(database)
    add_staff(database, STAFF_TARGET, Role.SUPPORT, "matrix-target-password", SYSTEM)
    save_sku(database, "TEA-1", "西湖龙井 250g", 50, 16_080, SYSTEM)
    set_stock(database, "SH", "TEA-1", 10, SYSTEM)
    short_order_id, transfer_id = _short_order(database)
    paid = make_order(database)
    change_id = _pending_change(database, make_order(database).id)
    return_id = _return_in_review(database)
    dead_job_id, dead_job_kind = _dead_job(database)
    with database.read() as session:
        shipment_id = session.scalars(select(Shipment.id)).one()
    confirmation_id = _refused_confirmation(database)
    parcel_return_id = _return_parcel_on_its_way(database)
    return World(
        paid_order_id=paid.id,
        paid_public_no=paid.public_no,
        paid_channel_order_no=paid.channel_order_no,
        held_order_id=_held_order(database),
        change_id=change_id,
        return_id=return_id,
        shipment_id=shipment_id,
        dead_job_id=dead_job_id,
        dead_job_kind=dead_job_kind,
        short_order_id=short_order_id,
        transfer_id=transfer_id,
        confirmation_id=confirmation_id,
        parcel_return_id=parcel_return_id,
        support_request_id=leave_message(
            database, paid.id, Actor(ActorKind.CUSTOMER, f"customer:{paid.public_no}"), "在吗？"
        ),
        cancellation_id=_cancelled_after_pack(database),
        cancellable_order_id=make_order(database).id,
        paid_customer_id=paid.customer_id,
        complaint_id=add_note(database, paid.id, NoteKind.COMPLAINT, "快递员态度差", WORLD_SUPPORT),
    )


def snapshot(database: Database) -> dict[str, list[str]]:
    """Every row of every table, as text: equal snapshots mean nothing was written."""
    with database.read() as session:
        return {
            table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)))
            for table in metadata.sorted_tables
        }


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> set[str]:
    return {name for name in before if before[name] != after[name]}
