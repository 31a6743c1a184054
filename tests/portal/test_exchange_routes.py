"""换货 through the pages: the form lists variants, refusals re-render with a message and store
nothing, the page shows both legs reloaded from the database, staff sign the parcel in."""

import pytest
from sqlalchemy import select

from backend.exchanges.lifecycle import ExchangeStatus
from backend.exchanges.models import Exchange
from backend.orders.lifecycle import OrderAction
from backend.orders.models import Sku
from backend.orders.service import apply_action
from backend.staff.models import Role
from tests.exchange_setup import delivered_shirt_order, seed_shirts
from tests.factories import SYSTEM
from tests.portal.helpers import csrf_token, open_short_link, staff_login


@pytest.fixture
def shirts(database):
    return seed_shirts(database)


@pytest.fixture
def delivered(database, client, shirts):
    order, line = delivered_shirt_order(database)
    open_short_link(client, database, order.id)
    return order, line


def post(client, path, data):
    token = csrf_token(client)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def choose(client, order, line, sku_id):
    return post(client, f"/orders/{order.public_no}/exchange", {"line": line, "sku": sku_id})


def exchanges(database):
    with database.read() as session:
        return list(session.scalars(select(Exchange)))


def reserved(database, sku_id):
    with database.read() as session:
        return session.get(Sku, sku_id).reserved


def test_the_order_page_offers_an_exchange_and_the_form_lists_the_variants(client, delivered):
    order, line = delivered
    page = client.get(f"/orders/{order.public_no}")
    assert f'href="/orders/{order.public_no}/exchange"' in page.text
    form = client.get(f"/orders/{order.public_no}/exchange")
    assert form.status_code == 200
    assert f'id="exchange_form_{line}"' in form.text
    assert "L / 白色" in form.text and "S / 灰色" in form.text
    assert form.text.count("disabled") == 2  # sold-out black L, dearer red XL


def test_an_exchange_redirects_to_one_page_with_both_legs(client, database, delivered, shirts):
    order, line = delivered
    answer = post(
        client, f"/orders/{order.public_no}/exchange", {"line": line, "sku": shirts["TEE-L-WHITE"]}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/orders/{order.public_no}/exchange"
    [row] = exchanges(database)
    assert row.status == ExchangeStatus.AWAITING_PARCEL
    page = client.get(f"/orders/{order.public_no}/exchange")
    assert f'id="exchange_{row.id}_return"' in page.text
    assert f'id="exchange_{row.id}_replacement"' in page.text
    assert f'id="exchange_form_{line}"' not in page.text  # the line is taken now

    sent = post(
        client,
        f"/orders/{order.public_no}/exchange/{row.id}/waybill",
        {"carrier": "shunfeng", "tracking_no": "SF1234567890"},
    )
    assert sent.status_code == 303
    page = client.get(f"/orders/{order.public_no}/exchange")
    assert "SF1234567890" in page.text
    assert exchanges(database)[0].status == ExchangeStatus.PARCEL_SENT


def test_an_out_of_stock_variant_is_refused_with_409_and_nothing_reserved(
    client, database, delivered, shirts
):
    order, line = delivered
    answer = post(
        client, f"/orders/{order.public_no}/exchange", {"line": line, "sku": shirts["TEE-L-BLACK"]}
    )
    assert answer.status_code == 409
    assert 'id="exchange_error"' in answer.text
    assert exchanges(database) == []
    assert reserved(database, shirts["TEE-L-BLACK"]) == 0


def test_a_dearer_variant_or_no_choice_is_refused_and_nothing_stored(
    client, database, delivered, shirts
):
    order, line = delivered
    path = f"/orders/{order.public_no}/exchange"
    assert post(client, path, {"line": line, "sku": shirts["TEE-XL-RED"]}).status_code == 409
    assert post(client, path, {"line": line, "sku": shirts["TEA-1"]}).status_code == 422
    assert post(client, path, {"line": line}).status_code == 422
    assert post(client, path, {"line": "x", "sku": "y"}).status_code == 400
    assert exchanges(database) == []


def test_cancelling_gives_the_unit_back_and_a_second_cancel_is_a_409(
    client, database, delivered, shirts
):
    order, line = delivered
    post(
        client, f"/orders/{order.public_no}/exchange", {"line": line, "sku": shirts["TEE-L-WHITE"]}
    )
    [row] = exchanges(database)
    assert reserved(database, shirts["TEE-L-WHITE"]) == 1
    path = f"/orders/{order.public_no}/exchange/{row.id}/cancel"
    assert post(client, path, {}).status_code == 303
    assert reserved(database, shirts["TEE-L-WHITE"]) == 0
    assert post(client, path, {}).status_code == 409
    assert reserved(database, shirts["TEE-L-WHITE"]) == 0


def test_someone_elses_order_is_a_404(client, database, shirts):
    order, line = delivered_shirt_order(database)
    other, _ = delivered_shirt_order(database, "13900000009")
    open_short_link(client, database, other.id)
    assert client.get(f"/orders/{order.public_no}/exchange").status_code == 404
    answer = post(
        client, f"/orders/{order.public_no}/exchange", {"line": line, "sku": shirts["TEE-L-WHITE"]}
    )
    assert answer.status_code == 404
    assert exchanges(database) == []


def test_staff_see_the_parcel_in_the_queue_and_sign_it_in(client, database, delivered, shirts):
    order, line = delivered
    choose(client, order, line, shirts["TEE-S-GREY"])
    [row] = exchanges(database)
    post(
        client,
        f"/orders/{order.public_no}/exchange/{row.id}/waybill",
        {"carrier": "shunfeng", "tracking_no": "SF1234567899"},
    )
    staff_login(client, database, Role.WAREHOUSE)
    queue = client.get("/admin/exchanges")
    assert queue.status_code == 200 and "SF1234567899" in queue.text
    token = csrf_token(client, "/admin/exchanges")
    signed = client.post(
        f"/admin/exchanges/{row.id}/receive", data={"csrf_token": token}, follow_redirects=False
    )
    assert signed.status_code == 303
    assert exchanges(database)[0].status == ExchangeStatus.DONE
    assert exchanges(database)[0].refunded_fen == 2_000
    assert "SF1234567899" not in client.get("/admin/exchanges").text


def test_staff_make_skus_variants_of_one_product_on_the_sku_page(client, database):
    staff_login(client, database, Role.FINANCE)
    token = csrf_token(client, "/admin/skus")
    for code, label, price in (("tee-s", "S / 灰色", "79"), ("tee-m", "M / 白色", "")):
        saved = client.post(
            "/admin/skus",
            data={
                "code": code,
                "name": "经典圆领T恤",
                "on_hand": "4",
                "cost_yuan": "30",
                "product_code": "tee-classic",
                "variant_label": label,
                "price_yuan": price,
                "csrf_token": token,
            },
            follow_redirects=True,
        )
        assert saved.status_code == 200
    assert "TEE-CLASSIC · S / 灰色 · ¥79.00" in saved.text
    with database.read() as session:
        rows = session.execute(
            select(Sku.code, Sku.product_code, Sku.variant_label, Sku.price_fen).order_by(Sku.code)
        ).all()
    assert rows == [
        ("TEE-M", "TEE-CLASSIC", "M / 白色", None),
        ("TEE-S", "TEE-CLASSIC", "S / 灰色", 7_900),
    ]
    # Saved again without a product code (a stock count): the variant is kept.
    client.post(
        "/admin/skus",
        data={
            "code": "tee-s",
            "name": "经典圆领T恤",
            "on_hand": "9",
            "cost_yuan": "30",
            "csrf_token": token,
        },
    )
    with database.read() as session:
        assert session.scalar(select(Sku.product_code).where(Sku.code == "TEE-S")) == "TEE-CLASSIC"


def test_the_order_page_keeps_the_link_to_an_exchange_once_no_new_one_is_possible(
    client, database, delivered, shirts
):
    order, line = delivered
    choose(client, order, line, shirts["TEE-L-WHITE"])
    apply_action(database, order.id, OrderAction.OPEN_AFTER_SALE, SYSTEM)
    assert (
        f'href="/orders/{order.public_no}/exchange"'
        in client.get(f"/orders/{order.public_no}").text
    )
    # An after-sale order without an exchange offers none.
    other, _ = delivered_shirt_order(database)
    apply_action(database, other.id, OrderAction.OPEN_AFTER_SALE, SYSTEM)
    open_short_link(client, database, other.id)
    page = client.get(f"/orders/{other.public_no}")
    assert page.status_code == 200
    assert f'href="/orders/{other.public_no}/exchange"' not in page.text


def test_the_warehouse_scan_of_the_returned_parcel_completes_the_exchange(
    client, database, delivered, shirts
):
    order, line = delivered
    choose(client, order, line, shirts["TEE-L-WHITE"])
    [row] = exchanges(database)
    post(
        client,
        f"/orders/{order.public_no}/exchange/{row.id}/waybill",
        {"carrier": "shunfeng", "tracking_no": "SF5000000001"},
    )
    staff_login(client, database, Role.WAREHOUSE)
    token = csrf_token(client, "/warehouse/scan")
    scanned = client.post("/warehouse/scan", data={"code": "sf5000000001", "csrf_token": token})
    assert scanned.status_code == 200
    assert "换货退回件已签收" in scanned.text
    [row] = exchanges(database)
    assert row.status == ExchangeStatus.DONE
    again = client.post("/warehouse/scan", data={"code": "SF5000000001", "csrf_token": token})
    assert again.status_code == 200 and "换货退回件已签收" in again.text
    assert exchanges(database)[0].status == ExchangeStatus.DONE
