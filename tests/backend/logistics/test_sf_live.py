"""SfClient against the loopback SF gateway; route pushes into a real webhook and database."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.logistics.carriers.base import (
    CarrierRejected,
    CarrierUnavailable,
    CircuitBreaker,
    ParsedPush,
)
from backend.logistics.carriers.sf import SfClient
from backend.logistics.models import Shipment, TrackingEvent
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from emulators.sf import SfGatewayEmulator, SfPushSender, build_route, out_of_order, with_duplicates
from tests.backend.logistics.live_servers import SfInbox, serve
from tests.factories import SYSTEM, create_shipment, make_order

T = TrackingStatus
START = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
MAILNO = "SF1234567890123"
TOKEN = "push-token-0123456789"
CHECK_WORD = "TESTCHECKWORD"


@pytest.fixture
def http():
    with httpx.Client() as client:
        yield client


@pytest.fixture
def gateway() -> SfGatewayEmulator:
    return SfGatewayEmulator(partner_id="TESTPARTNER", check_word=CHECK_WORD)


@pytest.fixture
def gateway_url(gateway):
    with serve(gateway.app) as url:
        yield f"{url}/std/service"


def make_client(http, url, **options) -> SfClient:
    settings = {"partner_id": "TESTPARTNER", "check_word": CHECK_WORD}
    settings.update(options)
    return SfClient(http, base_url=url, breaker=CircuitBreaker("sf", threshold=2), **settings)


@pytest.fixture
def route() -> list[dict[str, str]]:
    return build_route(MAILNO, order_id="ORD-1", start=START)


def test_a_route_query_returns_what_sf_has_so_far(http, gateway, gateway_url, route):
    gateway.add_waybill(route, revealed=3)
    parsed = make_client(http, gateway_url).query("shunfeng", MAILNO, phone="13800138000")
    assert [(e.raw_code, e.status) for e in parsed.events] == [
        ("50", T.PICKED_UP),
        ("30", T.IN_TRANSIT),
        ("36", T.IN_TRANSIT),
    ]
    assert parsed.full_history and parsed.source == "sf" and parsed.carrier_code == "shunfeng"
    assert parsed.events[0].description == "顺丰速运 已收取快件"


def test_a_waybill_sf_does_not_know_is_no_news(http, gateway_url):
    parsed = make_client(http, gateway_url).query("shunfeng", "SF0000000000404")
    assert parsed.events == [] and not parsed.full_history


def test_a_wrong_check_word_is_refused_as_a_bad_digest(http, gateway, gateway_url, route):
    gateway.add_waybill(route)
    with pytest.raises(CarrierRejected) as raised:
        make_client(http, gateway_url, check_word="WRONG").query("shunfeng", MAILNO)
    assert raised.value.code == "A1006"


def test_a_reused_request_id_is_refused(http, gateway, gateway_url, route):
    gateway.add_waybill(route)
    client = make_client(http, gateway_url, new_request_id=lambda: "SAME-ID")
    client.query("shunfeng", MAILNO)
    with pytest.raises(CarrierRejected) as raised:
        client.query("shunfeng", MAILNO)
    assert raised.value.code == "A1007"


def test_an_sf_outage_is_retryable(http, gateway, gateway_url):
    gateway.outage = True
    with pytest.raises(CarrierUnavailable) as raised:
        make_client(http, gateway_url).query("shunfeng", MAILNO)
    assert raised.value.status_code == 503


def record(database):
    actor = Actor(ActorKind.CARRIER, "sf", channel="webhook")

    def handle(parsed: ParsedPush) -> None:
        record_tracking_update(
            database,
            parsed.carrier_code,
            parsed.tracking_no,
            parsed.events,
            source=parsed.source,
            full_history=parsed.full_history,
            actor=actor,
        )

    return handle


@pytest.fixture
def shipped_order(database):
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "shunfeng", MAILNO, SYSTEM)
    return order


def stored(database, order_id):
    with database.read() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.tracking_no == MAILNO)).one()
        count = session.scalar(
            select(func.count(TrackingEvent.id)).where(TrackingEvent.shipment_id == shipment.id)
        )
        return shipment.status, count, session.get(Order, order_id).status


@pytest.mark.parametrize(
    "order_of",
    [lambda n: list(range(n)), with_duplicates, out_of_order],
    ids=["in-order", "duplicates", "out-of-order"],
)
def test_incremental_pushes_in_any_order_deliver_the_order_once(
    database, http, shipped_order, route, order_of
):
    inbox = SfInbox(TOKEN, handle=record(database))
    with serve(inbox.app) as url:
        sender = SfPushSender(f"{url}/hooks/sf/{TOKEN}", http)
        responses = sender.replay(route, order_of(len(route)))
    assert all(SfPushSender.accepted(r) for r in responses)
    assert all(not parsed.full_history for parsed in inbox.received)
    assert stored(database, shipped_order.id) == (T.DELIVERED, len(route), OrderStatus.DELIVERED)


def test_a_push_to_the_wrong_token_is_refused_and_records_nothing(
    database, http, shipped_order, route
):
    inbox = SfInbox(TOKEN, handle=record(database))
    with serve(inbox.app) as url:
        response = SfPushSender(f"{url}/hooks/sf/guess", http).push(route)
    assert response.status_code == 403 and inbox.refused == 1
    assert stored(database, shipped_order.id) == (T.INFO_RECEIVED, 0, OrderStatus.SHIPPED)


def test_signed_form_pushes_are_verified_and_tampered_ones_refused(http, route):
    inbox = SfInbox(TOKEN, check_word=CHECK_WORD)
    with serve(inbox.app) as url:
        sender = SfPushSender(f"{url}/hooks/sf/{TOKEN}", http, check_word=CHECK_WORD, form=True)
        assert SfPushSender.accepted(sender.push(route[:2]))
        tampered = sender.push(route[2:], tamper=True)
    assert tampered.status_code == 403 and inbox.refused == 1
    [parsed] = inbox.received
    assert [e.raw_code for e in parsed.events] == ["50", "30"]


def test_a_pickup_point_route_passes_through_130(route):
    with_locker = build_route(MAILNO, order_id="ORD-1", start=START, pickup_point=True)
    assert [item["opCode"] for item in with_locker][-2:] == ["130", "80"]
    assert len(with_locker) == len(route) + 1
