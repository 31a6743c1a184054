"""Phones and streets at rest: sealed in the file and the dump, still found, and rotated."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import Text, select, text, type_coerce

from backend import personal_data
from backend.clock import utcnow
from backend.demo import PRODUCTS, seed_operations, seed_orders, seed_stock
from backend.jobs.models import Job
from backend.jobs.queue import enqueue
from backend.notifications.models import Channel, Notification, NotificationEvent
from backend.orders.address_changes import confirm_address_change, start_address_change
from backend.orders.address_policy import AddressRules
from backend.orders.channels import CanonicalAddress, CanonicalLine, CanonicalOrder
from backend.orders.intake import IntakeRules, ingest_channel_order
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import AddressChange, AddressVersion, Customer, HoldReason, Order
from backend.orders.service import NewAddress
from backend.personal_data import (
    EncryptedColumnCompared,
    Keyring,
    SealedValueUnreadable,
    parse_keyring,
)
from backend.personal_data_rotation import reseal_all, sealed_columns
from tests.factories import SYSTEM, make_order

PHONE, STREET = "13912345678", "莫干山路1188号3幢"
NEW_PHONE, NEW_STREET = "13787654321", "天目山路29号财富大厦"


def ring_of(*ids: str) -> Keyring:
    return Keyring(
        keys={key_id: os.urandom(32) for key_id in ids},
        current=ids[0],
        index_key=personal_data.DEVELOPMENT_RING.index_key,
    )


@pytest.fixture
def restore_ring():
    before = personal_data.ring()
    yield
    personal_data.install(before)


def test_a_value_opens_only_in_its_own_column_and_only_unaltered():
    ring = ring_of("a")
    sealed = ring.seal(PHONE, "customers.phone")
    assert PHONE not in sealed and sealed.startswith("pd1:a:")
    assert ring.open(sealed, "customers.phone") == PHONE
    assert ring.seal(PHONE, "customers.phone") != sealed  # a fresh nonce every time
    with pytest.raises(SealedValueUnreadable):
        ring.open(sealed, "address_versions.phone")  # moved to another column
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealedValueUnreadable):
        ring.open(tampered, "customers.phone")
    with pytest.raises(SealedValueUnreadable, match="'b'"):
        ring_of("c").open(ring_of("b").seal(PHONE, "x.y"), "x.y")


def test_keys_from_settings_are_checked():
    good = base64.b64encode(os.urandom(32)).decode()
    index = base64.b64encode(os.urandom(16)).decode()
    ring = parse_keyring((f"new:{good}", f"old:{good}"), index)
    assert ring.current == "new" and set(ring.keys) == {"new", "old"}
    for keys, index_key in (
        (("nocolon",), index),
        ((f"short:{base64.b64encode(b'x' * 8).decode()}",), index),
        (("bad:!!!",), index),
        ((f"ok:{good}",), "c2hvcnQ="),
    ):
        with pytest.raises(ValueError):
            parse_keyring(keys, index_key)


def test_an_encrypted_column_refuses_to_be_compared_in_sql():
    with pytest.raises(EncryptedColumnCompared):
        select(Customer.id).where(Customer.phone == PHONE)
    with pytest.raises(EncryptedColumnCompared):
        select(AddressVersion.id).where(AddressVersion.street.contains("路"))
    select(Customer.id).where(Customer.phone.is_not(None))  # presence is fine


def _fill(database):
    """Every way a phone or a street reaches the database, on top of the demo."""
    seed_orders(database, rules=IntakeRules())
    seed_operations(database, IntakeRules())
    order = make_order(database, phone=PHONE, status=OrderStatus.PAID)
    rules = AddressRules()
    started = start_address_change(
        database,
        order.id,
        NewAddress("李四", NEW_PHONE, "浙江省", "杭州市", "西湖区", NEW_STREET),
        SYSTEM,
        rules,
        make_code=lambda: "123456",
    )
    confirm_address_change(database, order.id, started.change_id, "123456", SYSTEM, rules)
    body = json.dumps({"receiver_mobile": PHONE, "receiver_address": STREET}, ensure_ascii=False)
    ingest_channel_order(
        database,
        CanonicalOrder(
            channel="jd",
            channel_order_no="JD-SEALED-1",
            status=OrderStatus.PAID,
            raw_status="WAIT_SELLER_STOCK_OUT",
            buyer_name="王五",
            buyer_phone=PHONE,
            address=CanonicalAddress("王五", PHONE, "浙江省", "杭州市", "拱墅区", STREET),
            lines=(CanonicalLine("TEA-1", "西湖龙井", 1, 12_800),),
            total_fen=12_800,
            placed_at=utcnow(),
            paid_at=utcnow(),
            updated_at=utcnow(),
        ),
        body,
        IntakeRules(),
        SYSTEM,
    )
    with database.write() as session:
        enqueue(session, "test.deliver", {"phone": PHONE, "street": STREET})
        session.add(
            Notification(
                order_id=order.id,
                event=NotificationEvent.SHIPPED,
                channel=Channel.SMS,
                recipient=PHONE,
                params={"street": STREET},
                idempotency_key="sealed-test",
            )
        )


def _personal_values(database) -> set[str]:
    """Every phone and street the database holds, read back (and opened) through the ORM."""
    with database.read() as session:
        values = set(session.scalars(select(Customer.phone)))
        for phone, street in session.execute(select(AddressVersion.phone, AddressVersion.street)):
            values |= {phone, street}
        for phone, street in session.execute(select(AddressChange.phone, AddressChange.street)):
            values |= {phone, street}
    return {value for value in values if value and "*" not in value}


def _stored_bytes(database, tmp_path: Path) -> bytes:
    if database.url.startswith("sqlite"):
        with database.engine.begin() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        path = Path(database.url.removeprefix("sqlite:///"))
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(file.read_bytes() for file in files if file.exists())
    url = database.url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(
        ["pg_dump", "--no-owner", url], check=True, capture_output=True, timeout=120
    ).stdout


def test_no_phone_or_street_is_in_the_file_or_the_dump(database, tmp_path):
    _fill(database)
    values = _personal_values(database) | {PHONE, STREET, NEW_PHONE, NEW_STREET}
    assert len(values) > 20  # the demo's customers are in it, not just ours
    stored = _stored_bytes(database, tmp_path)
    # The search is real: a name, which is not sealed, is found in the same bytes.
    assert "王五".encode() in stored
    leaked = sorted(value for value in values if value.encode() in stored)
    assert leaked == []


def test_sealed_phones_are_still_found_and_duplicates_still_held(database):
    seed_stock(database)
    sku, title, price = PRODUCTS[0]
    first = make_order(database, phone=PHONE)
    again = make_order(database, phone=PHONE, name="另一个名字")
    with database.read() as session:
        customers = session.scalars(select(Customer).where(Customer.phone_last4 == "5678")).all()
        assert [c.id for c in customers] == [first.customer_id] == [again.customer_id]
        assert customers[0].phone == PHONE
    # Intake's duplicate check: the same phone and SKU within minutes is held.
    order = CanonicalOrder(
        channel="taobao",
        channel_order_no="TB-DUP-1",
        status=OrderStatus.PAID,
        raw_status="WAIT_SELLER_SEND_GOODS",
        buyer_name="张三",
        buyer_phone=PHONE,
        address=CanonicalAddress("张三", PHONE, "浙江省", "杭州市", "西湖区", STREET),
        lines=(CanonicalLine(sku, title, 1, price),),
        total_fen=price,
        placed_at=utcnow(),
        paid_at=utcnow(),
        updated_at=utcnow(),
    )
    ingest_channel_order(database, order, "{}", IntakeRules(), SYSTEM)
    twin = ingest_channel_order(
        database,
        CanonicalOrder(**{**order.__dict__, "channel_order_no": "TB-DUP-2"}),
        "{}",
        IntakeRules(),
        SYSTEM,
    )
    with database.read() as session:
        held = session.scalar(select(Order.hold_reason).where(Order.id == twin.order_id))
    assert held == HoldReason.DUPLICATE_SUSPECT


def test_rotation_reseals_everything_while_the_app_keeps_writing(database, restore_ring):
    old = ring_of("old")
    personal_data.install(old)
    _fill(database)
    before = _personal_values(database)
    both = Keyring(keys={"new": os.urandom(32), **old.keys}, current="new", index_key=old.index_key)
    personal_data.install(both)
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        while not stop.is_set():
            written.append(make_order(database, phone=f"1380000{len(written):04d}").id)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        first = reseal_all(database, SYSTEM)
    finally:
        stop.set()
        writer.join()
    assert first.key == "new" and first.values > 0 and written
    reseal_all(database, SYSTEM)  # whatever the writer's rows left behind
    assert reseal_all(database, SYSTEM).values == 0
    # Every stored value is now under the new key ...
    with database.read() as session:
        for _table, column in sealed_columns():
            stored = session.scalars(select(type_coerce(column, Text)).where(column.is_not(None)))
            assert {both.key_of(value) for value in stored} <= {"new"}, column
    # ... and opens without the old one.
    personal_data.install(
        Keyring(keys={"new": both.keys["new"]}, current="new", index_key=old.index_key)
    )
    assert before <= _personal_values(database)
    with database.read() as session:
        assert session.scalar(select(Job.id).limit(1)) is not None
