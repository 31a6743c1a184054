"""The demo goes through the production paths: intake brings every order in, the pack
scan locks it, and today's parcels are booked at the Kuaidi100 e-waybill emulator with
their labels, as `portal demo` does under `make run`."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.db import Database
from backend.demo import REAL_CARRIERS, seed_orders
from backend.fulfilment.waybills import WaybillSource
from backend.jobs.models import Job
from backend.logistics.models import ParcelLabel, Shipment, ShipmentLine
from backend.orders.intake import IntakeRules
from backend.orders.models import ChannelEvent, Order, WarehouseStock
from portal.demo_services import demo_booking


def test_every_demo_order_comes_through_intake_and_todays_parcels_are_booked(database, settings):
    with demo_booking(settings) as booking:
        result = seed_orders(database, carriers=REAL_CARRIERS, booking=booking, rules=IntakeRules())
    with database.read() as session:
        orders = session.scalar(select(func.count()).select_from(Order))
        taken_in = set(session.scalars(select(ChannelEvent.order_id)))
        ingested = session.scalar(select(func.count()).where(AuditEvent.action == "order.ingested"))
        placed = session.scalar(select(func.count()).where(AuditEvent.action == "order.placed"))
        booked = session.scalars(
            select(Shipment).where(Shipment.source == str(WaybillSource.BOOKED))
        ).all()
        labels = {
            label.shipment_id: label
            for label in session.scalars(
                select(ParcelLabel).where(ParcelLabel.shipment_id.in_([s.id for s in booked]))
            )
        }
        confirm_jobs = session.scalar(
            select(func.count()).where(Job.kind == "channel.confirm_shipment")
        )
        reserved = session.scalar(select(func.count()).where(WarehouseStock.reserved > 0))
        booked_orders = [session.get(Order, s.order_id) for s in booked]
        lines = {
            s.id: session.scalar(select(func.count()).where(ShipmentLine.shipment_id == s.id))
            for s in booked
        }
    assert result.created == orders >= 40
    assert len(taken_in) == orders and ingested == orders and placed == 0
    # Today's parcels (the just-handed-over orders and the two-parcel ones) were booked.
    assert len(booked) >= 4
    assert all(labels[s.id].pdf and labels[s.id].pdf.startswith(b"%PDF") for s in booked)
    assert all(s.shipped_at is None for s in booked)  # they leave at the carrier's pickup scan
    assert all(o is not None and o.address_locked_at is not None for o in booked_orders)
    assert all(count >= 1 for count in lines.values())
    assert confirm_jobs >= len(booked)  # each parcel is confirmed to its channel
    assert reserved  # stock waits in a warehouse for the unshipped orders


def test_portal_demo_with_the_emulators_books_parcels_and_a_second_run_adds_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": url,
        "PORTAL_VAR_DIR": str(tmp_path),
        "PORTAL_DEMO_EMULATORS": "1",
    }
    portal = [sys.executable, "-m", "portal.cli"]
    subprocess.run([*portal, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    first = subprocess.run(
        [*portal, "demo"], env=env, check=True, capture_output=True, text=True, timeout=300
    )
    second = subprocess.run(
        [*portal, "demo"], env=env, check=True, capture_output=True, text=True, timeout=300
    )
    assert "46 created, 0 already there" in first.stdout
    assert "0 created, 46 already there" in second.stdout
    assert "booked at the e-waybill emulator" in first.stdout
    database = Database(url)
    try:
        with database.read() as session:
            booked = session.scalar(
                select(func.count()).where(Shipment.source == str(WaybillSource.BOOKED))
            )
            numbers = session.scalars(select(Shipment.tracking_no)).all()
    finally:
        database.dispose()
    assert booked and booked >= 4
    assert len(numbers) == len(set(numbers))
