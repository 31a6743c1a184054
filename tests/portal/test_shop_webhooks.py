"""Several shops per platform: each store pushes by its own URL, signed with its own secret."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from backend.clock import SHANGHAI
from backend.jobs.models import Job
from backend.orders.channels import signatures as sig
from backend.orders.models import ChannelEvent, Order, OrderLine, Shop
from backend.orders.reconciliation import list_reports, reconcile_dropped_exports
from backend.orders.shops import ShopsFileInvalid, load_shops_file, parse_shops, sync_shops
from portal.cli import main as portal_main
from tests.backend.orders.channels.recorded import payload_bytes
from tests.channel_shops import (
    SHOPS,
    app_client,
    order_of,
    stock,
    take_orders,
    tmall_push,
    two_tmall_shops,
)
from tests.factories import SYSTEM

FLAGSHIP, OUTLET = SHOPS["tmall-flagship"][1], SHOPS["tmall-outlet"][1]


def shop_code(database, order_id):
    with database.read() as session:
        return session.scalar(
            select(Shop.code).join(Order, Order.shop_id == Shop.id).where(Order.id == order_id)
        )


def test_two_tmall_shops_each_get_their_own_orders_by_their_own_url(database, settings, tmp_path):
    stock(database)
    with two_tmall_shops(settings, tmp_path) as world, app_client(world.settings, database) as c:
        first = c.post(
            "/webhooks/channels/tmall/tmall-flagship", data=tmall_push(10, "18621000001", FLAGSHIP)
        )
        second = c.post(
            "/webhooks/channels/tmall/tmall-outlet", data=tmall_push(20, "18621000002", OUTLET)
        )
        # The old URL is the channel's default shop, the one flagged default in the file.
        third = c.post("/webhooks/channels/tmall", data=tmall_push(30, "18621000003", FLAGSHIP))
        assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
        take_orders(c, database, world.settings)
    shops = {tid: shop_code(database, order_of(database, tid).id) for tid in (10, 20, 30)}
    assert shops == {10: "tmall-flagship", 20: "tmall-outlet", 30: "tmall-flagship"}
    with database.read() as session:
        line_ids = session.scalars(
            select(OrderLine.channel_line_id).where(OrderLine.order_id == order_of(database, 20).id)
        ).all()
    assert line_ids == ["21"]  # the oid, kept for the ship confirmation


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        ("/webhooks/channels/tmall/tmall-outlet", FLAGSHIP),  # the other shop's secret
        ("/webhooks/channels/tmall/tmall-flagship", OUTLET),
        ("/webhooks/channels/tmall", OUTLET),  # the default shop is the flagship
    ],
)
def test_a_push_signed_with_the_other_shops_secret_is_refused(
    database, settings, tmp_path, path, secret
):
    with two_tmall_shops(settings, tmp_path) as world, app_client(world.settings, database) as c:
        answer = c.post(path, data=tmall_push(40, "18621000004", secret))
    assert answer.status_code == 401
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_an_unknown_shop_or_a_shop_of_another_channel_is_no_endpoint(database, settings, tmp_path):
    with two_tmall_shops(settings, tmp_path) as world, app_client(world.settings, database) as c:
        unknown = c.post(
            "/webhooks/channels/tmall/nope", data=tmall_push(1, "18621000005", FLAGSHIP)
        )
        crossed = c.post("/webhooks/channels/taobao/tmall-outlet", data=tmall_push(1, "1", OUTLET))
        shopify = c.post("/webhooks/shopify/tmall-outlet", content=b"{}")
    assert [unknown.status_code, crossed.status_code, shopify.status_code] == [404, 404, 404]


def test_an_order_pushed_through_another_shops_url_is_not_touched(database, settings, tmp_path):
    stock(database)
    with two_tmall_shops(settings, tmp_path) as world, app_client(world.settings, database) as c:
        c.post(
            "/webhooks/channels/tmall/tmall-flagship", data=tmall_push(50, "18621000006", FLAGSHIP)
        )
        take_orders(c, database, world.settings)
        before = order_of(database, 50)
        c.post("/webhooks/channels/tmall/tmall-outlet", data=tmall_push(50, "18621000006", OUTLET))
        take_orders(c, database, world.settings)
    after = order_of(database, 50)
    assert (after.shop_id, after.status, after.updated_at) == (
        before.shop_id,
        before.status,
        before.updated_at,
    )
    with database.read() as session:
        outcomes = session.scalars(select(ChannelEvent.outcome).order_by(ChannelEvent.id)).all()
    assert outcomes == ["created", "other_shop"]


def test_without_a_shops_file_each_channel_has_one_default_shop(client, database, settings):
    assert settings.shops.for_push("taobao", None).code == "taobao"
    assert settings.shops.for_push("taobao", "taobao").webhook_secret
    assert settings.shops.for_push("tmall", None).webhook_secret == ""  # refused, as before
    assert settings.shops.for_push("taobao", "tmall") is None


def test_shops_sync_from_the_cli_upserts_and_deactivates(database, settings, tmp_path, monkeypatch):
    with two_tmall_shops(settings, tmp_path) as world:
        monkeypatch.setenv("PORTAL_DATABASE_URL", database.url)
        monkeypatch.setenv("PORTAL_SHOPS_FILE", world.settings.shops_file)
        assert portal_main(["shops", "sync"]) == 0
        assert portal_main(["shops", "sync"]) == 0  # twice: nothing more
    with database.read() as session:
        rows = session.execute(
            select(Shop.code, Shop.name, Shop.platform_shop_id, Shop.active)
        ).all()
    assert sorted(rows) == [
        ("tmall-flagship", "天猫tmall-flagship", "seller-0", True),
        ("tmall-outlet", "天猫tmall-outlet", "seller-1", True),
    ]
    one = parse_shops({"shops": [{"code": "tmall-outlet", "channel": "tmall"}]})
    result = sync_shops(database, one, SYSTEM)
    assert (result.added, result.deactivated) == (0, 1)
    with database.read() as session:
        assert session.scalar(select(Shop.active).where(Shop.code == "tmall-flagship")) is False


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"shops": []},
        {"shops": [{"code": "A B", "channel": "tmall"}]},
        {"shops": [{"code": "x", "channel": "ebay"}]},
        {"shops": [{"code": "x", "channel": "tmall", "app_secret": 5}]},
        {"shops": [{"code": "x", "channel": "tmall", "secret": "typo"}]},
        {"shops": [{"code": "x", "channel": "tmall"}, {"code": "x", "channel": "jd"}]},
        {"shops": [{"code": "x", "channel": "jd", "default": True},
                   {"code": "y", "channel": "jd", "default": True}]},
    ],
)  # fmt: skip
def test_a_broken_shops_file_is_refused_whole(document):
    with pytest.raises(ShopsFileInvalid):
        parse_shops(document)


def test_a_shops_file_may_be_json_and_an_unreadable_one_is_a_clear_error(tmp_path):
    path = tmp_path / "shops.json"
    path.write_text('{"shops": [{"code": "dy-brand", "channel": "douyin", "app_secret": "s"}]}')
    shop = load_shops_file(path).for_push("douyin", None)
    assert (shop.code, shop.webhook_secret, shop.name) == ("dy-brand", "s", "dy-brand")
    (tmp_path / "bad.toml").write_text("[[shops]\n")
    with pytest.raises(ShopsFileInvalid):
        load_shops_file(tmp_path / "bad.toml")
    with pytest.raises(ShopsFileInvalid):
        load_shops_file(tmp_path / "missing.toml")


def test_a_shops_export_is_compared_with_that_shops_orders_only(database, settings, tmp_path):
    stock(database)
    with two_tmall_shops(settings, tmp_path) as world, app_client(world.settings, database) as c:
        c.post(
            "/webhooks/channels/tmall/tmall-flagship", data=tmall_push(60, "18621000060", FLAGSHIP)
        )
        c.post("/webhooks/channels/tmall/tmall-outlet", data=tmall_push(61, "18621000061", OUTLET))
        take_orders(c, database, world.settings)
    placed = order_of(database, 60).placed_at  # both placed at the payload's time
    day = placed.astimezone(SHANGHAI).date()
    exports = tmp_path / "exports" / "tmall-outlet"
    exports.mkdir(parents=True)
    (exports / f"{day.isoformat()}.csv").write_text("订单号,状态,实付金额\n61,交易成功,1299.00\n")
    now = datetime.combine(day + timedelta(days=1), time(12), tzinfo=SHANGHAI)
    assert reconcile_dropped_exports(database, str(tmp_path / "exports"), now) == 1
    (report,) = list_reports(database)
    with database.read() as session:
        outlet = session.scalar(select(Shop.id).where(Shop.code == "tmall-outlet"))
    # The flagship's order 60 is not "only here": the export is the outlet's alone.
    assert (report.channel, report.shop_id, report.differences) == ("tmall", outlet, [])


def test_a_shopify_store_of_the_shops_file_takes_orders_by_its_own_url(
    database, settings, tmp_path
):
    path = tmp_path / "shops.json"
    path.write_text(
        '{"shops": [{"code": "brand-a", "channel": "shopify", "webhook_secret": "brand-a-secret"},'
        ' {"code": "brand-b", "channel": "shopify", "webhook_secret": "brand-b-secret"}]}'
    )
    body = payload_bytes("shopify", "normal")
    wired = replace(settings, shops_file=str(path))
    with app_client(wired, database) as client:

        def post(url, secret):
            headers = {"X-Shopify-Hmac-Sha256": sig.build_shopify_hmac(body, secret)}
            return client.post(url, content=body, headers=headers).status_code

        assert post("/webhooks/shopify/brand-a", "brand-b-secret") == 401
        assert post("/webhooks/shopify/brand-b", "brand-b-secret") == 200
        take_orders(client, database, wired)
    with database.read() as session:
        (order_id,) = session.scalars(select(Order.id)).all()
    assert shop_code(database, order_id) == "brand-b"


def test_a_broken_shops_file_stops_the_app_from_starting(database, settings, tmp_path):
    (tmp_path / "shops.toml").write_text('[[shops]]\ncode = "x"\nchannel = "ebay"\n')
    with pytest.raises(ShopsFileInvalid):
        app_client(replace(settings, shops_file=str(tmp_path / "shops.toml")), database)
