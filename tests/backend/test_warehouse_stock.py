"""Stock per warehouse: concurrent intake never oversells and follows the allocation rules;
parcels commit their own lines; inspected returns go back on the shelf exactly once."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.db import Database, is_unavailable
from backend.orders import inventory
from backend.orders.channels import CanonicalAddress, CanonicalLine, CanonicalOrder
from backend.orders.intake import IntakeRules, ingest_channel_order
from backend.orders.lifecycle import OrderAction, OrderStatus
from backend.orders.models import (
    HoldReason,
    MovementKind,
    Order,
    OrderLine,
    PaymentMethod,
    Reservation,
    ReservationState,
    SalesChannel,
    Sku,
    StockMovement,
    TransferProposal,
    Warehouse,
    WarehouseStock,
)
from backend.orders.service import apply_action
from backend.orders.warehouses import WarehouseFields, save_warehouse, set_stock
from backend.refunds.models import ReturnRequest
from backend.refunds.return_parcels import receive_return, record_inspection, send_back
from backend.refunds.rules import RefundRules, RefundType
from backend.refunds.service import file_return
from backend.staff.models import Role
from tests.factories import SYSTEM, create_shipment

RULES = IntakeRules()
CHANNEL = Actor(ActorKind.CHANNEL, "jd", channel="webhook")
WAREHOUSE_STAFF = Actor(ActorKind.STAFF, "仓库小张", role=Role.WAREHOUSE)
CUSTOMER = Actor(ActorKind.CUSTOMER, "buyer", channel="sms-link")
PROVINCE = {"HZ": "浙江省", "BJ": "北京市"}


def two_warehouses(database: Database) -> None:
    save_warehouse(database, WarehouseFields("HZ", "杭州仓", "浙江省", priority=1), SYSTEM)
    save_warehouse(database, WarehouseFields("BJ", "北京仓", "北京市", priority=2), SYSTEM)


def channel_order(number: str, province: str, lines: tuple[tuple[str, int], ...]) -> CanonicalOrder:
    phone = f"139{int(number):08d}"
    return CanonicalOrder(
        channel=SalesChannel.JD,
        channel_order_no=f"JD-{number}",
        status=OrderStatus.PAID,
        raw_status="PAID",
        buyer_name="买家",
        buyer_phone=phone,
        address=CanonicalAddress("买家", phone, province, "某市", "某区", "某路1号"),
        lines=tuple(CanonicalLine(sku, sku, quantity, 5_000) for sku, quantity in lines),
        total_fen=5_000 * sum(quantity for _, quantity in lines),
        placed_at=utcnow(),
        paid_at=utcnow(),
        updated_at=utcnow(),
        payment_method=PaymentMethod.WECHAT_PAY,
    )


def ingest(database: Database, order: CanonicalOrder) -> tuple[int, HoldReason | None]:
    while True:
        try:
            result = ingest_channel_order(database, order, "{}", RULES, CHANNEL)
            assert result.order_id is not None
            return result.order_id, result.hold
        except Exception as error:
            # Many threads share one pool: a long wait is "unavailable", as a webhook would
            # answer 503, and the channel delivers again.
            if not is_unavailable(error):
                raise


def stock_rows(database: Database) -> dict[tuple[str, str], tuple[int, int]]:
    with database.read() as session:
        rows = session.execute(
            select(Warehouse.code, Sku.code, WarehouseStock.on_hand, WarehouseStock.reserved)
            .join(Warehouse, Warehouse.id == WarehouseStock.warehouse_id)
            .join(Sku, Sku.id == WarehouseStock.sku_id)
        ).all()
    return {(w, s): (on_hand, reserved) for w, s, on_hand, reserved in rows}


def placements(database: Database) -> dict[int, set[tuple[str, str]]]:
    """Per order, the (SKU, warehouse) pairs it holds reserved."""
    with database.read() as session:
        rows = session.execute(
            select(Reservation.order_id, Sku.code, Warehouse.code)
            .join(Sku, Sku.id == Reservation.sku_id)
            .join(Warehouse, Warehouse.id == Reservation.warehouse_id)
            .where(Reservation.state == ReservationState.RESERVED)
        ).all()
    found: dict[int, set[tuple[str, str]]] = {}
    for order_id, sku, warehouse in rows:
        found.setdefault(order_id, set()).add((sku, warehouse))
    return found


def test_a_hundred_concurrent_orders_never_oversell_either_warehouse_and_follow_the_rules(
    database,
):
    two_warehouses(database)
    inventory_of = {("HZ", "TEA"): 40, ("BJ", "TEA"): 20, ("BJ", "CUP"): 100}
    for (warehouse, sku), units in inventory_of.items():
        inventory.save_sku(database, sku, sku, units, None, SYSTEM, warehouse=warehouse)
    # 60 orders of one tea, 40 of a tea and a cup (cups only in Beijing); half to each city.
    orders: list[tuple[str, tuple[tuple[str, int], ...]]] = []
    for number in range(100):
        province = "浙江省" if number % 2 else "北京市"
        orders.append((province, (("TEA", 1),) if number < 60 else (("TEA", 1), ("CUP", 1))))
    barrier = threading.Barrier(len(orders))
    results: dict[int, tuple[str, int, HoldReason | None]] = {}

    def buy(number: int) -> None:
        province, lines = orders[number]
        order = channel_order(str(number + 1), province, lines)
        barrier.wait()
        order_id, hold = ingest(database, order)
        results[number] = (province, order_id, hold)

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(len(orders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 100
    stock = stock_rows(database)
    placed = placements(database)
    # Never oversold, and the totals and the reservation rows agree with every warehouse row.
    assert all(reserved <= on_hand for on_hand, reserved in stock.values())
    with database.read() as session:
        per_row = dict(
            session.execute(
                select(Warehouse.code + ":" + Sku.code, func.sum(Reservation.quantity))
                .join(Sku, Sku.id == Reservation.sku_id)
                .join(Warehouse, Warehouse.id == Reservation.warehouse_id)
                .where(Reservation.state == ReservationState.RESERVED)
                .group_by(Warehouse.code, Sku.code)
            ).all()
        )
        totals = {
            code: (on_hand, reserved)
            for code, on_hand, reserved in session.execute(
                select(Sku.code, Sku.on_hand, Sku.reserved)
            )
        }
    assert per_row == {f"{w}:{s}": reserved for (w, s), (_, reserved) in stock.items() if reserved}
    for sku in ("TEA", "CUP"):
        rows = [value for (_, s), value in stock.items() if s == sku]
        assert totals[sku] == (sum(r[0] for r in rows), sum(r[1] for r in rows))
    # Sixty teas for a hundred orders: exactly sixty reserved, forty held with nothing kept.
    held = [order_id for _, order_id, hold in results.values() if hold is not None]
    assert {hold for _, _, hold in results.values()} == {None, HoldReason.OUT_OF_STOCK}
    assert len(held) == 40 and not set(held) & set(placed)
    assert stock[("HZ", "TEA")] == (40, 40) and stock[("BJ", "TEA")] == (20, 20)
    # The rules, order by order: the nearer warehouse unless it had run out (then it is
    # empty now); one warehouse for tea and cup unless Beijing's tea had run out.
    hz_empty = stock[("HZ", "TEA")][1] == 40
    bj_empty = stock[("BJ", "TEA")][1] == 20
    for number, (province, order_id, hold) in results.items():
        if hold is not None:
            continue
        where = placed[order_id]
        tea_from = next(w for s, w in where if s == "TEA")
        near = "HZ" if province == "浙江省" else "BJ"
        if number < 60:
            assert tea_from == near or (bj_empty if near == "BJ" else hz_empty), (number, where)
        else:
            assert ("CUP", "BJ") in where
            assert tea_from == "BJ" or bj_empty, (number, where)


def test_an_order_ships_from_one_farther_warehouse_rather_than_split(database):
    two_warehouses(database)
    inventory.save_sku(database, "TEA", "TEA", 5, None, SYSTEM, warehouse="HZ")
    inventory.save_sku(database, "TEA", "TEA", 5, None, SYSTEM, warehouse="BJ")
    inventory.save_sku(database, "CUP", "CUP", 5, None, SYSTEM, warehouse="BJ")
    order_id, hold = ingest(database, channel_order("1", "浙江省", (("TEA", 1), ("CUP", 1))))
    assert hold is None and placements(database)[order_id] == {("TEA", "BJ"), ("CUP", "BJ")}
    near_id, _ = ingest(database, channel_order("2", "浙江省", (("TEA", 1),)))
    assert placements(database)[near_id] == {("TEA", "HZ")}
    allocation = inventory.allocation_of(database, order_id)
    assert [(a.sku, a.warehouse_code, a.warehouse_name, a.quantity) for a in allocation] == [
        ("TEA", "BJ", "北京仓", 1),
        ("CUP", "BJ", "北京仓", 1),
    ]


def test_a_line_no_warehouse_holds_alone_is_held_with_a_transfer_proposal(database):
    two_warehouses(database)
    save_warehouse(database, WarehouseFields("SH", "上海仓", "上海市", priority=3), SYSTEM)
    inventory.save_sku(database, "TEA", "TEA", 2, None, SYSTEM, warehouse="HZ")
    set_stock(database, "SH", "TEA", 2, SYSTEM)
    set_stock(database, "BJ", "TEA", 9, SYSTEM)  # enough, but three days from Hangzhou
    set_stock(database, "BJ", "TEA", 0, SYSTEM)
    order_id, hold = ingest(database, channel_order("1", "浙江省", (("TEA", 3),)))
    assert hold == HoldReason.OUT_OF_STOCK and order_id not in placements(database)
    with database.read() as session:
        proposal = session.scalars(select(TransferProposal)).one()
        codes = dict(session.execute(select(Warehouse.id, Warehouse.code)).all())
    assert (codes[proposal.from_warehouse_id], codes[proposal.to_warehouse_id]) == ("SH", "HZ")
    assert (proposal.quantity, proposal.lead_days, proposal.status) == (1, 1, "proposed")


def _line_ids(database: Database, order_id: int) -> list[int]:
    with database.read() as session:
        return list(
            session.scalars(
                select(OrderLine.id).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
            )
        )


def test_a_parcel_commits_exactly_its_units_from_the_warehouse_each_line_was_reserved_at(
    database,
):
    two_warehouses(database)
    inventory.save_sku(database, "TEA", "TEA", 5, None, SYSTEM, warehouse="HZ")
    inventory.save_sku(database, "CUP", "CUP", 5, None, SYSTEM, warehouse="BJ")
    order_id, _ = ingest(database, channel_order("1", "浙江省", (("TEA", 3), ("CUP", 2))))
    tea_line, cup_line = _line_ids(database, order_id)
    with database.write() as session:
        inventory.commit_lines(session, order_id, {tea_line: 2})
    assert stock_rows(database) == {("HZ", "TEA"): (3, 1), ("BJ", "CUP"): (5, 2)}
    with database.write() as session, pytest.raises(inventory.NotReserved):
        inventory.commit_lines(session, order_id, {tea_line: 2})  # only one is left reserved
    assert stock_rows(database) == {("HZ", "TEA"): (3, 1), ("BJ", "CUP"): (5, 2)}
    with database.write() as session:
        inventory.commit_lines(session, order_id, {tea_line: 1, cup_line: 2})
    assert stock_rows(database) == {("HZ", "TEA"): (2, 0), ("BJ", "CUP"): (3, 0)}
    with database.read() as session:
        shipped = session.scalars(
            select(StockMovement.quantity).where(StockMovement.kind == MovementKind.COMMIT)
        ).all()
    assert sorted(shipped) == [-2, -2, -1]


def _delivered_and_returned(database: Database, number: str) -> tuple[int, int]:
    """A channel order to Beijing, shipped (from BJ), delivered, and its return received."""
    order_id, hold = ingest(database, channel_order(number, "北京市", (("TEA", 2),)))
    assert hold is None
    for action in (OrderAction.START_PICKING, OrderAction.PACK):
        apply_action(database, order_id, action, SYSTEM)
    create_shipment(database, order_id, "sandbox", f"SB{number:0>10}", SYSTEM)
    apply_action(database, order_id, OrderAction.DELIVER, SYSTEM)
    with database.read() as session:
        customer_id = session.get(Order, order_id).customer_id
    (line_id,) = _line_ids(database, order_id)
    filed = file_return(
        database,
        order_id,
        customer_id,
        {line_id: 2},
        RefundType.RETURN_AND_REFUND,
        "no_reason_7_days",
        "",
        [],
        RefundRules(),
        CUSTOMER,
    )
    with database.read() as session:
        status = session.get(ReturnRequest, filed.return_id).status
    assert status == "awaiting_parcel"
    send_back(database, filed.return_id, customer_id, "zhongtong", f"ZT{number:0>10}", CUSTOMER)
    receive_return(database, filed.return_id, WAREHOUSE_STAFF)
    return order_id, filed.return_id


def test_a_resaleable_return_goes_back_to_its_warehouse_once_however_often_it_is_inspected(
    database,
):
    two_warehouses(database)
    inventory.save_sku(database, "TEA", "TEA", 5, None, SYSTEM, warehouse="HZ")
    inventory.save_sku(database, "TEA", "TEA", 5, None, SYSTEM, warehouse="BJ")
    order_id, return_id = _delivered_and_returned(database, "1")
    assert stock_rows(database) == {("HZ", "TEA"): (5, 0), ("BJ", "TEA"): (3, 0)}
    barrier = threading.Barrier(2)

    def inspect() -> None:
        barrier.wait()
        record_inspection(database, return_id, True, "", WAREHOUSE_STAFF)

    twice = [threading.Thread(target=inspect) for _ in range(2)]
    for thread in twice:
        thread.start()
    for thread in twice:
        thread.join()
    record_inspection(database, return_id, True, "再查一次", WAREHOUSE_STAFF)
    assert stock_rows(database) == {("HZ", "TEA"): (5, 0), ("BJ", "TEA"): (5, 0)}
    with database.read() as session:
        assert session.scalars(select(Sku.on_hand)).one() == 10
        kinds = session.scalars(
            select(StockMovement.kind).where(StockMovement.order_id == order_id)
        ).all()
        restocked = session.scalars(
            select(AuditEvent.after).where(AuditEvent.action == "stock.restocked")
        ).all()
    assert sorted(kinds) == ["commit", "restock"]
    assert [(a["quantity"], a["sku_id"]) for a in restocked] == [(2, 1)]


def test_a_damaged_return_is_written_off_with_its_reason_and_never_restocked(database):
    two_warehouses(database)
    inventory.save_sku(database, "TEA", "TEA", 5, None, SYSTEM, warehouse="BJ")
    order_id, return_id = _delivered_and_returned(database, "2")
    record_inspection(database, return_id, False, "罐子压扁", WAREHOUSE_STAFF)
    record_inspection(database, return_id, True, "", WAREHOUSE_STAFF)  # the first verdict holds
    assert stock_rows(database) == {("BJ", "TEA"): (3, 0)}
    with database.read() as session:
        written = session.scalars(
            select(StockMovement).where(StockMovement.kind == MovementKind.WRITE_OFF)
        ).one()
        events = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("stock.%"))
        ).all()
    assert (written.quantity, written.reason, written.order_id) == (2, "罐子压扁", order_id)
    assert events == ["stock.written_off"]


def test_stock_counted_without_a_warehouse_goes_to_a_default_one(database):
    inventory.save_sku(database, "TEA", "龙井", 7, None, SYSTEM)
    assert stock_rows(database) == {("MAIN", "TEA"): (7, 0)}
    order_id, hold = ingest(database, replace(channel_order("1", "浙江省", (("TEA", 2),))))
    assert hold is None and placements(database)[order_id] == {("TEA", "MAIN")}
    with pytest.raises(inventory.SkuInvalid):
        inventory.save_sku(database, "TEA", "龙井", 1, None, SYSTEM)  # two are reserved
    with pytest.raises(inventory.SkuInvalid):
        inventory.save_sku(database, "TEA", "龙井", 9, None, SYSTEM, warehouse="NOWHERE")
    assert stock_rows(database) == {("MAIN", "TEA"): (7, 2)}
