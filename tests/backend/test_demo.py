"""The demo data: every state, safe to seed twice, and something for every staff queue."""

from datetime import timedelta

from sqlalchemy import func, select

from backend.demo import REAL_CARRIERS, list_held_waybills, seed_orders, seed_staff
from backend.demo_catalogue import seed_catalogue_images
from backend.logistics.alerts import AlertKind, list_alerts
from backend.orders.intake import IntakeRules
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order, Sku
from backend.refunds.photos import PhotoStore
from backend.staff.accounts import log_in


def test_the_demo_covers_every_order_state_and_seeding_twice_adds_nothing(database):
    first = seed_orders(database, rules=IntakeRules())
    second = seed_orders(database, rules=IntakeRules())
    assert first.created >= 40 and first.existing == 0
    assert (second.created, second.existing) == (0, first.created)
    with database.read() as session:
        statuses = set(session.scalars(select(Order.status).distinct()))
        total = session.scalar(select(func.count()).select_from(Order))
    assert statuses == {str(s) for s in OrderStatus}
    assert total == first.created


def test_the_demo_gives_the_exceptions_queue_stalled_and_unpicked_parcels(database):
    seed_orders(database, carriers=REAL_CARRIERS, rules=IntakeRules())
    kinds = {alert.kind for alert in list_alerts(database)}
    assert {AlertKind.NOT_PICKED_UP, AlertKind.STALLED} <= kinds
    assert len(list_held_waybills(database)) == 4


def test_demo_staff_can_log_in_and_seeding_them_twice_is_harmless(database):
    seed_staff(database)
    staff = seed_staff(database)
    name, role, password = staff[0]
    login = log_in(database, name, password, None, None, timedelta(hours=1))
    assert login.identity.role == role


def test_the_demo_fills_every_operations_queue_and_the_dashboard(database):
    from backend.demo import seed_operations
    from backend.operations import get_dashboard, list_queue
    from backend.orders.holds import Team

    seed_orders(database, rules=IntakeRules())
    assert seed_operations(database, IntakeRules()) == 5
    assert seed_operations(database, IntakeRules()) == 0
    causes = {item.cause for item in list_queue(database)}
    assert {"duplicate_suspect", "high_value", "below_cost", "unknown_sku"} <= causes
    teams = {item.team for item in list_queue(database)}
    assert {Team.FINANCE, Team.SUPPORT, Team.OPERATIONS} <= teams
    dashboard = get_dashboard(database)
    assert sum(dashboard.orders_today.values()) > 0 and dashboard.held == 4
    assert dashboard.processing_median is not None
    # The demo's stalled and never-collected parcels are the open logistics exceptions.
    assert dashboard.exceptions_open == len(list_alerts(database)) == 4


def test_every_demo_sku_gets_a_catalogue_image_once(database, tmp_path):
    seed_orders(database, rules=IntakeRules())
    store = PhotoStore(tmp_path)
    first = seed_catalogue_images(database, store)
    assert seed_catalogue_images(database, store) == 0
    with database.read() as session:
        skus = session.execute(select(Sku.image_hash, Sku.image_thumbnail_name)).all()
    assert first == len(skus) >= 10
    assert all(image_hash and store.read(thumbnail) for image_hash, thumbnail in skus)
    assert len({image_hash for image_hash, _ in skus}) == len(skus)
