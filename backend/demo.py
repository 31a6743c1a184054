"""Demo data: ~50 orders in every state, with Chinese names, addresses and products.

Seeding goes through the real services, so the audit trail and timelines look as they
would in production: orders come in through channel intake (stock reserved at the
warehouse the allocation rules choose), the warehouse pack scan locks them, and with
e-waybill booking configured (`make run`) today's parcels are booked at the carrier's
API with their labels. Older parcels arrive as the merchant's ERP recorded them, as they
would for a merchant who switched booking on recently. Running it twice adds nothing:
orders are keyed by channel number.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.fulfilment.packing import PackingConfig, book_parcel
from backend.fulfilment.waybills import WaybillSource, record_waybill
from backend.logistics.carriers import sandbox
from backend.logistics.models import Shipment
from backend.logistics.service import record_tracking_update
from backend.logistics.warehouse import scan_parcel
from backend.logistics.waybills.registry import WaybillBookers
from backend.orders.channels import CanonicalAddress, CanonicalLine, CanonicalOrder
from backend.orders.intake import IntakeRules, ingest_channel_order
from backend.orders.inventory import SkuVariant, save_sku
from backend.orders.lifecycle import OrderAction, OrderStatus
from backend.orders.models import (
    AddressVersion,
    Order,
    OrderLine,
    PaymentMethod,
    SalesChannel,
    Sku,
)
from backend.orders.service import NewAddress, NewLine, NewOrder, apply_action
from backend.orders.warehouses import WarehouseFields, save_warehouse, set_stock
from backend.staff.accounts import StaffNameTaken, add_staff
from backend.staff.models import Role

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = (
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "婷婷",
    "子涵",
    "浩然",
    "欣怡",
)
PLACES = (
    ("浙江省", "杭州市", "西湖区", "文三路100号华星科技大厦5楼"),
    ("上海市", "上海市", "浦东新区", "张杨路500号时代广场12楼"),
    ("北京市", "北京市", "朝阳区", "建国路88号SOHO现代城2号楼1801"),
    ("广东省", "深圳市", "南山区", "科技园南区高新南一道9号"),
    ("广东省", "广州市", "天河区", "天河路208号粤海天河城大厦"),
    ("四川省", "成都市", "武侯区", "人民南路四段27号商鼎国际"),
    ("湖北省", "武汉市", "洪山区", "珞喻路1037号华中科技大学东校区"),
    ("江苏省", "南京市", "鼓楼区", "中山路321号现代大厦"),
    ("陕西省", "西安市", "雁塔区", "小寨东路126号百隆广场"),
    ("福建省", "厦门市", "思明区", "鹭江道8号国际银行大厦"),
    ("山东省", "青岛市", "市南区", "香港中路61号远洋大厦"),
    ("湖南省", "长沙市", "岳麓区", "麓山南路932号"),
)
PRODUCTS = (
    ("TEA-LJ-250", "明前西湖龙井 250g 礼盒装", 26800),
    ("CUP-CER-01", "景德镇手绘陶瓷茶杯 两只装", 8900),
    ("SILK-SC-02", "杭州真丝围巾 桑蚕丝", 19900),
    ("SNK-NUT-10", "每日坚果 混合果仁 30袋", 12900),
    ("HON-ACA-500", "洋槐蜂蜜 500g", 5990),
    ("TWL-CTN-03", "新疆长绒棉毛巾 三条装", 4990),
    ("BAG-CAN-01", "帆布托特包 米白色", 7900),
    ("PHN-CASE-15", "手机壳 磨砂防摔 适用 15 Pro", 3900),
    ("LMP-DSK-01", "护眼台灯 无频闪", 15900),
    ("RCE-WCH-5K", "五常大米 稻花香 5kg", 8800),
)
# 换货 needs variants: two products come in colours / models (product code, variant label).
VARIANT_OF: dict[str, tuple[str, str]] = {
    "BAG-CAN-01": ("BAG-CAN", "米白色"),
    "PHN-CASE-15": ("PHN-CASE", "适用 15 Pro"),
}
# Variants no demo order bought: (code, name, price, product code, label, stock at HZ).
MORE_VARIANTS = (
    ("BAG-CAN-02", "帆布托特包 黑色", 7900, "BAG-CAN", "黑色", 30),
    ("BAG-CAN-03", "帆布托特包 藏青色", 7900, "BAG-CAN", "藏青色", 0),  # sold out
    ("PHN-CASE-16", "手机壳 磨砂防摔 适用 16 Pro", 3900, "PHN-CASE", "适用 16 Pro", 40),
)
CHANNELS = (
    SalesChannel.TAOBAO,
    SalesChannel.TMALL,
    SalesChannel.JD,
    SalesChannel.PINDUODUO,
    SalesChannel.DOUYIN,
    SalesChannel.WECHAT,
    SalesChannel.OWN_SHOP,
)

# (status to reach, how many, days ago it was placed, sandbox steps already travelled)
PLAN: tuple[tuple[OrderStatus, int, float, int], ...] = (
    (OrderStatus.PENDING_PAYMENT, 3, 0.02, 0),
    (OrderStatus.PAID, 5, 0.05, 0),
    (OrderStatus.PICKING, 3, 0.2, 0),
    (OrderStatus.PACKED, 3, 0.4, 0),
    (OrderStatus.SHIPPED, 4, 0.05, 1),  # just handed over: these move live in the demo
    (OrderStatus.SHIPPED, 6, 1.5, 4),
    (OrderStatus.DELIVERED, 6, 4, 99),
    (OrderStatus.COMPLETED, 4, 12, 99),
    (OrderStatus.AFTER_SALE, 2, 6, 99),
    (OrderStatus.REFUNDED, 1, 9, 99),
    (OrderStatus.CANCELLED, 3, 2, 0),
    # Two warehouses' worth: two parcels are on their way, the last item is still to pack.
    (OrderStatus.PARTIALLY_SHIPPED, 2, 0.3, 1),
)

# Parcels that stopped moving, for the exceptions queue: (days since shipped, steps seen).
STUCK: tuple[tuple[float, int], ...] = ((1.3, 0), (1.6, 0), (3.5, 2), (4.2, 3))
HELD_PREFIX = "DEMO-HOLD-"

# Tracked through Kuaidi100 (the emulator in the demo), as a merchant's parcels would be.
REAL_CARRIERS = ("zhongtong", "yuantong", "yunda", "shentong", "jtexpress", "jd")

DEMO_STAFF = (
    ("admin", Role.ADMIN, "demo-admin-2026"),
    ("support", Role.SUPPORT, "demo-support-2026"),
    ("warehouse", Role.WAREHOUSE, "demo-warehouse-2026"),
    ("finance", Role.FINANCE, "demo-finance-2026"),
    ("supervisor", Role.SUPERVISOR, "demo-supervisor-2026"),
)

# Intake brings each order in unpaid, paid or cancelled, as its channel reported it; from
# there the warehouse picks it, and its pack scan (True) locks the address.
PATHS: dict[OrderStatus, bool] = {
    OrderStatus.PENDING_PAYMENT: False,
    OrderStatus.PAID: False,
    OrderStatus.PICKING: False,
    OrderStatus.PACKED: True,
    OrderStatus.CANCELLED: False,
}
PICKED = frozenset(OrderStatus) - {
    OrderStatus.PENDING_PAYMENT,
    OrderStatus.PAID,
    OrderStatus.CANCELLED,
}
AFTER_DELIVERY: dict[OrderStatus, tuple[OrderAction, ...]] = {
    OrderStatus.COMPLETED: (OrderAction.COMPLETE,),
    OrderStatus.AFTER_SALE: (OrderAction.OPEN_AFTER_SALE,),
    OrderStatus.REFUNDED: (OrderAction.OPEN_AFTER_SALE, OrderAction.REFUND_IN_FULL),
}


# Numbers in each carrier's own shape (backend/logistics/carriers/recognition.py), so the
# demo's parcels pass the same checks as a merchant's.
WAYBILL_SHAPES = {
    "shunfeng": ("SF", 13),
    "yuantong": ("YT", 13),
    "jtexpress": ("JT", 13),
    "jd": ("JD", 13),
    "zhongtong": ("7", 13),
    "yunda": ("4", 12),
    "shentong": ("77", 11),
}


def demo_waybill(carrier: str, serial: int) -> str:
    prefix, digits = WAYBILL_SHAPES.get(carrier, ("SB", 12))
    return f"{prefix}{7 * 10 ** (digits - 1) + serial}"


@dataclass(frozen=True)
class DemoResult:
    created: int
    existing: int


@dataclass(frozen=True)
class Booking:
    """The carriers' e-waybill APIs the warehouse books today's parcels at (`make run`)."""

    bookers: WaybillBookers
    config: PackingConfig


CHANNEL_ACTOR = Actor(ActorKind.CHANNEL, "demo", channel="demo")
# The demo's parcels are packed by the demo's warehouse login, as the scan page would.
PACKER = Actor(ActorKind.STAFF, "warehouse", channel="demo", role=Role.WAREHOUSE)
# Parcels handed over this recently are booked at the carrier; older ones came from the ERP.
BOOKED_SINCE = timedelta(hours=12)


def _channel_order(new: NewOrder, status: OrderStatus) -> CanonicalOrder:
    """The order as its channel's push maps it: what intake takes from every platform."""
    a = new.address
    placed = new.placed_at or utcnow()
    paid = status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED)
    arriving = (
        OrderStatus.CANCELLED
        if status == OrderStatus.CANCELLED
        else OrderStatus.PAID
        if paid
        else OrderStatus.PENDING_PAYMENT
    )
    return CanonicalOrder(
        channel=new.channel,
        channel_order_no=new.channel_order_no,
        status=arriving,
        raw_status=str(arriving).upper(),
        buyer_name=new.customer_name,
        buyer_phone=new.customer_phone,
        address=CanonicalAddress(
            a.recipient_name, a.phone, a.province, a.city, a.district, a.street
        ),
        lines=tuple(
            CanonicalLine(line.sku, line.name, line.quantity, line.unit_price_fen)
            for line in new.lines
        ),
        total_fen=sum(line.quantity * line.unit_price_fen for line in new.lines),
        placed_at=placed,
        paid_at=placed + timedelta(minutes=2) if paid else None,
        updated_at=placed + timedelta(minutes=2),
        payment_method=new.payment_method,
    )


def _take_in(database: Database, new: NewOrder, status: OrderStatus, rules: IntakeRules) -> int:
    result = ingest_channel_order(database, _channel_order(new, status), "{}", rules, CHANNEL_ACTOR)
    assert result.order_id is not None and result.hold is None, result
    return result.order_id


def _pack_scan(database: Database, order_id: int, at: datetime) -> None:
    with database.read() as session:
        public_no = session.scalar(select(Order.public_no).where(Order.id == order_id))
    assert public_no is not None
    scan_parcel(database, public_no, PACKER, now=at)


def _book(
    database: Database,
    booking: Booking,
    order_id: int,
    parcel_no: int,
    carrier: str,
    lines: dict[int, int] | None = None,
) -> tuple[int, str]:
    booked = book_parcel(
        database,
        booking.bookers,
        booking.config,
        order_id,
        parcel_no,
        PACKER,
        carrier_code=carrier,
        lines=lines,
    )
    return booked.shipment_id, booked.tracking_no


def _new_order(rng: random.Random, index: int, placed_at: datetime) -> NewOrder:
    name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
    province, city, district, street = PLACES[index % len(PLACES)]
    lines = [
        NewLine(sku, title, rng.choice((1, 1, 1, 2)), price)
        for sku, title, price in rng.sample(PRODUCTS, rng.choice((1, 1, 2, 3)))
    ]
    channel = CHANNELS[index % len(CHANNELS)]
    return NewOrder(
        channel=channel,
        channel_order_no=f"DEMO{index:04d}",
        customer_name=name,
        customer_phone=phone,
        address=NewAddress(name, phone, province, city, district, street),
        lines=lines,
        placed_at=placed_at,
        payment_method=PaymentMethod.WECHAT_PAY if index % 2 else PaymentMethod.ALIPAY,
    )


def _ship(
    database: Database,
    order_id: int,
    index: int,
    at: datetime,
    steps: int,
    actor: Actor,
    carriers: Sequence[str],
    held: bool = False,
    booking: Booking | None = None,
) -> None:
    carrier = carriers[index % len(carriers)]
    recent = utcnow() - at < BOOKED_SINCE
    if booking is not None and recent and not held and booking.bookers.can_book(carrier):
        # Packed and booked: the label is printed, and the parcel ships at the carrier's
        # pickup scan, which the Kuaidi100 emulator pushes once the demo serves.
        _pack_scan(database, order_id, at - timedelta(minutes=10))
        _book(database, booking, order_id, 1, carrier)
        return
    tracking_no = demo_waybill(carrier, index * 7919)
    # The parcel left with the merchant's ERP's waybill (source erp), a production path.
    shipment_id = record_waybill(
        database,
        order_id,
        carrier,
        tracking_no,
        actor,
        source=WaybillSource.ERP,
        at=at,
        origin_province="浙江省",
    ).shipment_id
    still_moving = steps < len(sandbox.build_route(0, "", ""))
    if carrier != sandbox.CARRIER_CODE and still_moving and not held:
        return  # a real carrier's parcel still on the road: its events come from the carrier
    _travel(database, order_id, shipment_id, carrier, tracking_no, at, steps)


def _travel(
    database: Database,
    order_id: int,
    shipment_id: int,
    carrier: str,
    tracking_no: str,
    at: datetime,
    steps: int,
) -> None:
    """The first `steps` of the sandbox route since `at`, as the carrier's pushes would bring."""
    with database.read() as session:
        city, district = session.execute(
            select(AddressVersion.city, AddressVersion.district)
            .join(Order, Order.current_address_id == AddressVersion.id)
            .where(Order.id == order_id)
        ).one()
    route = sandbox.build_route(shipment_id, city, district)
    events = sandbox.events_until(route, at, min(steps, len(route)))
    if events:
        record_tracking_update(
            database,
            carrier,
            tracking_no,
            events,
            source="demo",
            full_history=False,
            actor=Actor(ActorKind.CARRIER, carrier),
        )


def _ship_first_lines(
    database: Database,
    order_id: int,
    index: int,
    at: datetime,
    actor: Actor,
    carriers: Sequence[str],
    booking: Booking | None = None,
) -> None:
    """Two parcels, one line each; the order's last line still waits."""
    with database.read() as session:
        lines = session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
        ).all()
    for parcel, line in enumerate(lines[:-1][:2]):
        carrier = carriers[(index + parcel) % len(carriers)]
        if booking is not None and booking.bookers.can_book(carrier):
            if parcel == 0:
                _pack_scan(database, order_id, at - timedelta(minutes=10))
            _book(database, booking, order_id, parcel + 1, carrier, {line.id: line.quantity})
            continue
        tracking_no = demo_waybill(carrier, index * 7919 + parcel)
        left_at = min(at + timedelta(minutes=40 * parcel), utcnow())
        recorded = record_waybill(
            database,
            order_id,
            carrier,
            tracking_no,
            actor,
            source=WaybillSource.ERP,
            lines={line.id: line.quantity},
            at=left_at,
            origin_province=("浙江省", "广东省")[parcel],
        )
        if carrier == sandbox.CARRIER_CODE:  # the first parcel has travelled further
            _travel(
                database, order_id, recorded.shipment_id, carrier, tracking_no, left_at, 3 - parcel
            )


def seed_orders(
    database: Database,
    now: datetime | None = None,
    seed: int = 20261122,
    carriers: Sequence[str] = (sandbox.CARRIER_CODE,),
    booking: Booking | None = None,
    *,
    rules: IntakeRules,
) -> DemoResult:
    """`carriers`: the built-in sandbox (default), or real codes tracked through Kuaidi100.

    `rules`: the intake rules in force (the settings' one set).
    `booking`: e-waybill APIs to book today's parcels at; without it every waybill is
    recorded as the merchant's ERP sent it.
    """
    now = now or utcnow()
    rng = random.Random(seed)
    actor = Actor(ActorKind.SYSTEM, "demo", channel="demo")
    seed_stock(database)
    created = existing = index = 0
    for status, count, days_ago, steps in PLAN:
        for _ in range(count):
            index += 1
            placed_at = now - timedelta(days=days_ago, minutes=rng.randrange(0, 50))
            new = _new_order(rng, index, placed_at)
            if status == OrderStatus.PARTIALLY_SHIPPED:  # three lines: two parcels, one waits
                new = replace(
                    new, lines=[NewLine(sku, title, 1, price) for sku, title, price in PRODUCTS[:3]]
                )
            if _known(database, new):
                existing += 1
                continue
            order_id = _take_in(database, new, status, rules)
            _advance(database, order_id, index, status, placed_at, steps, actor, carriers, booking)
            created += 1
    for number, (days_ago, steps) in enumerate(STUCK, start=1):
        index += 1
        shipped_at = now - timedelta(days=days_ago)
        new = replace(
            _new_order(rng, index, shipped_at - timedelta(hours=2)),
            channel_order_no=f"{HELD_PREFIX}{number}",
        )
        if _known(database, new):
            existing += 1
            continue
        order_id = _take_in(database, new, OrderStatus.PAID, rules)
        apply_action(
            database, order_id, OrderAction.START_PICKING, actor, at=shipped_at - timedelta(hours=1)
        )
        _pack_scan(database, order_id, shipped_at - timedelta(minutes=30))
        _ship(database, order_id, index, shipped_at, steps, actor, carriers, held=True)
        created += 1
    return DemoResult(created, existing)


def count_parcels(database: Database) -> dict[str, int]:
    """Demo parcels by where their waybill came from (booked, erp), for `portal demo` to print."""
    with database.read() as session:
        rows = session.execute(
            select(Shipment.source, func.count())
            .join(Order, Order.id == Shipment.order_id)
            .where(Order.channel_order_no.like("DEMO%"))
            .group_by(Shipment.source)
        ).all()
    return {str(source): count for source, count in rows}


def _known(database: Database, new: NewOrder) -> bool:
    with database.read() as session:
        return (
            session.scalar(
                select(Order.id).where(
                    Order.channel == new.channel, Order.channel_order_no == new.channel_order_no
                )
            )
            is not None
        )


def list_held_waybills(database: Database) -> list[tuple[str, str]]:
    """(carrier, waybill) of the demo parcels that stopped moving; the emulator holds them."""
    with database.read() as session:
        rows = session.execute(
            select(Shipment.carrier_code, Shipment.tracking_no)
            .join(Order, Order.id == Shipment.order_id)
            .where(Order.channel_order_no.like(f"{HELD_PREFIX}%"))
        ).all()
    return [(carrier, number) for carrier, number in rows]


def _advance(
    database: Database,
    order_id: int,
    index: int,
    status: OrderStatus,
    placed_at: datetime,
    steps: int,
    actor: Actor,
    carriers: Sequence[str],
    booking: Booking | None,
) -> None:
    at = placed_at + timedelta(minutes=20)
    if status in PICKED:
        # Picking has no scan of its own yet: the pick list's start is recorded as such.
        apply_action(database, order_id, OrderAction.START_PICKING, actor, at=at)
    at += timedelta(minutes=20)
    if PATHS.get(status) is True:
        _pack_scan(database, order_id, at)
    if status in PATHS:
        return
    shipped_at = min(at + timedelta(minutes=30), utcnow())
    if status == OrderStatus.PARTIALLY_SHIPPED:
        _ship_first_lines(database, order_id, index, shipped_at, actor, carriers, booking)
        return
    _ship(database, order_id, index, shipped_at, steps, actor, carriers, booking=booking)
    for action in AFTER_DELIVERY.get(status, ()):
        apply_action(database, order_id, action, actor)


def seed_staff(database: Database) -> list[tuple[str, Role, str]]:
    actor = Actor(ActorKind.SYSTEM, "demo", channel="demo")
    for name, role, password in DEMO_STAFF:
        with suppress(StaffNameTaken):
            add_staff(database, name, role, password, actor)
    return list(DEMO_STAFF)


def list_demo_orders(database: Database, limit: int = 5) -> list[tuple[int, str, str]]:
    """(order id, public number, status) of moving parcels first: the ones worth opening."""
    with database.read() as session:
        rows = session.execute(
            select(Order.id, Order.public_no, Order.status)
            .outerjoin(Shipment, Shipment.order_id == Order.id)
            .where(Order.channel_order_no.like("DEMO%"))
            .order_by((Order.status == OrderStatus.SHIPPED).desc(), Order.placed_at.desc())
            .limit(limit)
        ).all()
    return [(row.id, row.public_no, str(row.status)) for row in rows]


# Channel orders that land in the operations queues: (order no, channel, phone, sku, qty, price).
UNMAPPED_TITLE = "桂花乌龙茶 新品试饮装 100g"
HELD_INTAKE: tuple[tuple[str, SalesChannel, str, str, int, int], ...] = (
    ("TB-DEMO-DUP-1", SalesChannel.TAOBAO, "13911110001", "TEA-LJ-250", 1, 26800),
    ("DY-DEMO-DUP-2", SalesChannel.DOUYIN, "13911110001", "TEA-LJ-250", 1, 26800),
    ("JD-DEMO-VIP-1", SalesChannel.JD, "13911110002", "SILK-SC-02", 30, 19900),
    ("PDD-DEMO-LOW-1", SalesChannel.PINDUODUO, "13911110003", "LMP-DSK-01", 1, 4900),
    ("TB-DEMO-SKU-1", SalesChannel.TAOBAO, "13911110004", "TB-SKU-3608123456", 1, 5990),
)


# Hangzhou ships first; Guangzhou serves the south (and Hainan) from its own stock.
DEMO_WAREHOUSES = (
    WarehouseFields(
        "HZ",
        "杭州仓",
        "浙江省",
        priority=1,
        contact_name="杭州仓",
        phone="057188886666",
        city="杭州市",
        district="余杭区",
        street="仓前街道文一西路1号",
    ),
    WarehouseFields(
        "GZ",
        "广州仓",
        "广东省",
        serves=("海南",),
        priority=2,
        contact_name="广州仓",
        phone="02088886666",
        city="广州市",
        district="白云区",
        street="太和镇物流园8号",
    ),
)


def seed_stock(database: Database) -> None:
    """Two warehouses and the SKU master with stock and cost (once: a second call adds nothing)."""
    with database.read() as session:
        known = set(session.scalars(select(Sku.code)))
    seeder = Actor(ActorKind.SYSTEM, "demo", channel="demo")
    for fields in DEMO_WAREHOUSES:
        save_warehouse(database, fields, seeder)
    for code, name, price in PRODUCTS:
        if code not in known:
            family = VARIANT_OF.get(code)
            variant = SkuVariant(family[0], family[1], price) if family else None
            save_sku(
                database, code, name, 200, price * 6 // 10, seeder, warehouse="HZ", variant=variant
            )
            set_stock(database, "GZ", code, 50, seeder)
    for code, name, price, product, label, on_hand in MORE_VARIANTS:
        if code not in known:
            variant = SkuVariant(product, label, price)
            save_sku(database, code, name, on_hand, price * 6 // 10, seeder, "HZ", variant)


def seed_operations(database: Database, rules: IntakeRules) -> int:
    """Channel orders that staff must look at (on top of the stock)."""
    seed_stock(database)
    actor = CHANNEL_ACTOR
    taken = 0
    for number, channel, phone, sku, quantity, price in HELD_INTAKE:
        now = utcnow() - timedelta(minutes=2)
        # The unknown SKU carries the channel's own title, as a real marketplace order does.
        name = dict((code, title) for code, title, _ in PRODUCTS).get(sku, UNMAPPED_TITLE)
        order = CanonicalOrder(
            channel=channel,
            channel_order_no=number,
            status=OrderStatus.PAID,
            raw_status="PAID",
            buyer_name="赵敏",
            buyer_phone=phone,
            address=CanonicalAddress("赵敏", phone, "浙江省", "杭州市", "西湖区", "文三路100号"),
            lines=(CanonicalLine(sku, name, quantity, price),),
            total_fen=price * quantity,
            placed_at=now,
            paid_at=now,
            updated_at=now,
        )
        result = ingest_channel_order(database, order, "{}", rules, actor)
        taken += result.outcome == "created"
    return taken
