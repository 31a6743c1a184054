"""Kuaidi100Client against the loopback emulator; pushes into a real webhook and database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.logistics.carriers import kuaidi100
from backend.logistics.carriers.base import (
    CarrierRejected,
    CarrierUnavailable,
    CircuitBreaker,
    CircuitOpen,
    ParsedPush,
    Recipient,
)
from backend.logistics.carriers.kuaidi100 import Kuaidi100Client
from backend.logistics.models import Shipment, TrackingEvent
from backend.logistics.service import record_tracking_update
from backend.logistics.status import TrackingStatus
from backend.logistics.timeline import fold_status
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import Order
from emulators.kuaidi100 import Kuaidi100Emulator
from tests.backend.logistics.live_servers import Kuaidi100Inbox, payload, serve
from tests.factories import SYSTEM, create_shipment, make_order

T = TrackingStatus
START = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
SALT = "0123456789abcdef0123456789abcdef"  # "32位自定义字符串"
NUMBER = "YT7000000000001"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def http():
    with httpx.Client() as client:
        yield client


@pytest.fixture
def emulator(http) -> Kuaidi100Emulator:
    return Kuaidi100Emulator(start=START, http=http)


@pytest.fixture
def emulator_url(emulator):
    with serve(emulator.app) as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_client(http, url, clock=None, **credentials) -> Kuaidi100Client:
    options: dict = {
        "customer": "TESTCUSTOMER",
        "key": "TESTKEY",
        "salt": SALT,
        "secret": "TESTSECRET",
    }
    options.update(credentials)
    breaker = CircuitBreaker("kuaidi100", threshold=3, cool_down=60, clock=clock or Clock())
    return Kuaidi100Client(http, poll_base_url=url, api_base_url=url, breaker=breaker, **options)


@pytest.fixture
def client(http, emulator_url, clock) -> Kuaidi100Client:
    return make_client(http, emulator_url, clock)


@pytest.fixture
def inbox() -> Kuaidi100Inbox:
    return Kuaidi100Inbox(SALT)


@pytest.fixture
def callback_url(inbox):
    with serve(inbox.app) as url:
        yield f"{url}/hooks/kuaidi100"


def codes(parsed: ParsedPush) -> list[str | None]:
    return [event.raw_code for event in parsed.events]


def test_a_query_returns_the_parcel_history_newest_first(client, emulator):
    waybill = emulator.add_waybill("yuantong", NUMBER, steps_done=4)
    parsed = client.query("yuantong", NUMBER)
    assert codes(parsed) == ["0", "1002", "0", "103"]
    assert [e.status for e in parsed.events] == [T.IN_TRANSIT] * 3 + [T.PICKED_UP]
    assert [e.occurred_at for e in parsed.events] == [t.at for t in reversed(waybill.history)]
    assert parsed.full_history and (parsed.raw_state, parsed.state) == ("0", T.IN_TRANSIT)


def test_a_waybill_without_data_yet_is_no_news(client, emulator):
    emulator.add_waybill("yuantong", NUMBER)
    assert client.query("yuantong", NUMBER).events == []
    assert client.query("yuantong", "YT0000000000404").events == []


def test_a_wrong_key_is_refused_with_the_carriers_code(http, emulator_url, emulator):
    emulator.add_waybill("yuantong", NUMBER, steps_done=2)
    with pytest.raises(CarrierRejected) as raised:
        make_client(http, emulator_url, key="WRONGKEY").query("yuantong", NUMBER)
    assert raised.value.code == "503"


def test_an_outage_is_retryable_and_opens_the_breaker_until_the_cool_down(client, emulator, clock):
    emulator.add_waybill("yuantong", NUMBER, steps_done=2)
    emulator.outage = True
    for _ in range(3):
        with pytest.raises(CarrierUnavailable) as raised:
            client.query("yuantong", NUMBER)
        assert raised.value.status_code == 503
    with pytest.raises(CircuitOpen):
        client.query("yuantong", NUMBER)
    emulator.outage = False
    clock.now += 60
    assert len(client.query("yuantong", NUMBER).events) == 2
    assert client.breaker.state == "closed"


def test_subscribing_twice_is_idempotent(client, callback_url):
    assert client.subscribe("yuantong", NUMBER, callback_url=callback_url) is True
    assert client.subscribe("yuantong", NUMBER, callback_url=callback_url) is False


def test_a_subscription_with_a_wrong_key_is_refused(http, emulator_url, callback_url):
    with pytest.raises(CarrierRejected) as raised:
        make_client(http, emulator_url, key="WRONGKEY").subscribe(
            "yuantong", NUMBER, callback_url=callback_url
        )
    assert raised.value.code == "600"


@pytest.mark.parametrize(
    ("route", "expected_tail"),
    [
        ({"station": False, "problem": "none"}, [("301", T.DELIVERED), ("5", T.OUT_FOR_DELIVERY)]),
        (
            {"station": True, "problem": "none"},
            [("304", T.DELIVERED), ("501", T.AVAILABLE_FOR_PICKUP), ("5", T.OUT_FOR_DELIVERY)],
        ),
        (
            {"station": False, "problem": "206"},
            [
                ("301", T.DELIVERED),
                ("5", T.OUT_FOR_DELIVERY),
                ("206", T.FAILED_ATTEMPT),
                ("5", T.OUT_FOR_DELIVERY),
            ],
        ),
        (
            {"station": False, "problem": "208"},
            [("301", T.DELIVERED), ("5", T.OUT_FOR_DELIVERY), ("208", T.EXCEPTION)],
        ),
    ],
)
def test_pushes_follow_the_parcel_to_delivery_with_the_full_history(
    client, emulator, inbox, callback_url, route, expected_tail
):
    waybill = emulator.add_waybill("yuantong", NUMBER, **route)
    client.subscribe("yuantong", NUMBER, callback_url=callback_url, phone="1234")
    while emulator.advance():
        pass
    assert all(push.accepted for push in emulator.pushes)
    assert [len(p.events) for p in inbox.received] == list(range(1, len(waybill.plan) + 1))
    assert [p.monitor_status for p in inbox.received] == ["polling"] * (len(waybill.plan) - 1) + [
        "shutdown"
    ]
    final = inbox.received[-1]
    assert [(e.raw_code, e.status) for e in final.events[: len(expected_tail)]] == expected_tail
    assert final.events[-1].status is T.PICKED_UP
    assert final.is_signed and fold_status(final.events) is T.DELIVERED
    assert sorted(final.events, key=lambda e: e.occurred_at, reverse=True) == final.events


def test_a_push_with_a_bad_signature_is_refused_and_sent_again(
    http, emulator_url, emulator, inbox, callback_url
):
    emulator.add_waybill("yuantong", NUMBER)
    make_client(http, emulator_url, salt="not-the-salt-the-webhook-knows").subscribe(
        "yuantong", NUMBER, callback_url=callback_url
    )
    [push] = emulator.advance()
    assert not push.accepted and push.status_code == 403
    assert inbox.refused == 1 and inbox.received == []


def test_a_tampered_push_is_refused(http, inbox, callback_url):
    param = payload("kuaidi100_push_station.json")
    inbox.salt = "s3cr3tSalt"  # the salt the recorded sign was made with
    response = http.post(
        callback_url,
        data={
            "param": param.replace("XX驿站", "YY驿站"),
            "sign": "EF4F7A711217EE7D870CE1EEAC229CD3",
        },
    )
    assert response.status_code == 403 and inbox.received == []
    genuine = http.post(
        callback_url, data={"param": param, "sign": "EF4F7A711217EE7D870CE1EEAC229CD3"}
    )
    assert genuine.json() == kuaidi100.PUSH_REPLY_OK and len(inbox.received) == 1


def test_an_unacknowledged_push_is_sent_again(client, emulator, inbox, callback_url):
    waybill = emulator.add_waybill("yuantong", NUMBER, steps_done=0, station=False, problem="none")
    waybill.revealed = len(waybill.plan) - 1
    client.subscribe("yuantong", NUMBER, callback_url=callback_url)
    inbox.fail_next = 1
    [first] = emulator.advance()
    assert not first.accepted and inbox.received == []
    [again] = emulator.advance()
    assert again.accepted and again.param == first.param
    assert inbox.received[-1].monitor_status == "shutdown"
    assert emulator.advance() == []


def test_an_abandoned_waybill_can_be_subscribed_again(client, emulator, inbox, callback_url):
    emulator.add_waybill("zhongtong", "ZT7500000000002")
    client.subscribe("zhongtong", "ZT7500000000002", callback_url=callback_url, phone="1234")
    emulator.abort("ZT7500000000002", "3天查询无记录")
    [parsed] = inbox.received
    assert parsed.needs_resubscribe and parsed.events == [] and not parsed.full_history
    assert client.subscribe("zhongtong", "ZT7500000000002", callback_url=callback_url) is True


NEW_RECIPIENT = Recipient("李四", "13900139000", "浙江省杭州市西湖区文三路200号")


def test_an_address_change_in_transit_is_accepted_and_recorded(client, emulator):
    emulator.add_waybill("yuantong", NUMBER, steps_done=3)
    receipt = client.request_address_change(
        "yuantong",
        NUMBER,
        NEW_RECIPIENT,
        callback_url="https://portal.example.com/hooks/kuaidi100/intercept",
        reason="客户改地址",
        order_reference="T000042",
    )
    assert receipt.tracking_no == NUMBER and receipt.reference
    [record] = emulator.intercepts
    assert record.accepted and record.param["interceptType"] == "MODIFY_ADDR"
    assert record.param["recManInfo"]["printAddr"] == "浙江省杭州市西湖区文三路200号"
    assert record.param["orderId"] == "T000042"


def test_an_address_change_after_signing_is_refused(client, emulator):
    waybill = emulator.add_waybill("yuantong", NUMBER)
    waybill.revealed = len(waybill.plan)
    with pytest.raises(CarrierRejected):
        client.request_address_change("yuantong", NUMBER, NEW_RECIPIENT, callback_url="http://x")
    assert not emulator.intercepts[-1].accepted


def test_an_address_change_with_a_wrong_secret_is_refused(http, emulator_url, emulator):
    emulator.add_waybill("yuantong", NUMBER, steps_done=3)
    with pytest.raises(CarrierRejected):
        make_client(http, emulator_url, secret="WRONG").request_address_change(
            "yuantong", NUMBER, NEW_RECIPIENT, callback_url="http://x"
        )


def record(database):
    actor = Actor(ActorKind.CARRIER, "kuaidi100", channel="webhook")

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


def test_pushes_delivered_through_the_webhook_deliver_the_order(
    database, client, emulator, inbox, callback_url, http
):
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "yuantong", NUMBER, SYSTEM)
    waybill = emulator.add_waybill("yuantong", NUMBER, station=True, problem="none")
    inbox.handle = record(database)
    client.subscribe("yuantong", NUMBER, callback_url=callback_url)
    while emulator.advance():
        pass
    last = emulator.pushes[-1]
    http.post(callback_url, data={"param": last.param, "sign": last.sign})  # a duplicate
    with database.read() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.tracking_no == NUMBER)).one()
        count = session.scalar(
            select(func.count(TrackingEvent.id)).where(TrackingEvent.shipment_id == shipment.id)
        )
        assert (shipment.status, shipment.raw_status) == (T.DELIVERED, "304")
        assert count == len(waybill.plan)
        assert session.get(Order, order.id).status == OrderStatus.DELIVERED


def test_a_late_older_snapshot_does_not_undo_a_delivery(database):
    order = make_order(database, status=OrderStatus.PACKED)
    create_shipment(database, order.id, "zhongtong", "ZT7500000000001", SYSTEM)
    handle = record(database)
    handle(kuaidi100.parse_push(payload("kuaidi100_push_signed.json")))
    handle(kuaidi100.parse_push(payload("kuaidi100_push_older.json")))
    with database.read() as session:
        shipment = session.scalars(select(Shipment)).one()
        assert shipment.status == T.DELIVERED


def test_the_emulator_speaks_the_documented_query_shape(http, emulator_url, emulator):
    emulator.add_waybill("yuantong", NUMBER, steps_done=2)
    form = kuaidi100.build_query_request("TESTCUSTOMER", "TESTKEY", "yuantong", NUMBER)
    body = http.post(f"{emulator_url}/poll/query.do", data=form).json()
    assert {"message", "nu", "ischeck", "com", "status", "state", "condition", "data"} <= set(body)
    assert set(body["data"][0]) == {
        "time",
        "ftime",
        "context",
        "location",
        "areaCode",
        "areaName",
        "status",
        "statusCode",
    }
    assert json.loads(form["param"])["resultv2"] == "4"


def test_the_control_endpoints_switch_the_outage_and_advance_parcels(
    http, emulator_url, emulator, client, inbox, callback_url
):
    emulator.add_waybill("yuantong", NUMBER)
    client.subscribe("yuantong", NUMBER, callback_url=callback_url)
    assert http.post(f"{emulator_url}/_emulator/outage", data={"enabled": "1"}).json() == {
        "outage": True
    }
    with pytest.raises(CarrierUnavailable):
        client.query("yuantong", NUMBER)
    http.post(f"{emulator_url}/_emulator/outage", data={"enabled": "0"})
    moved = http.post(f"{emulator_url}/_emulator/advance", data={"number": NUMBER}).json()
    assert moved == [{"number": NUMBER, "accepted": True}]
    assert codes(inbox.received[-1]) == ["103"]


def test_a_return_to_sender_in_transit_is_accepted_and_the_route_turns_back(client, emulator):
    waybill = emulator.add_waybill("yuantong", NUMBER, steps_done=3)
    receipt = client.request_return_to_sender(
        "yuantong", NUMBER, callback_url="http://x/intercept", order_reference="T000042"
    )
    assert receipt.reference
    [record] = emulator.intercepts
    assert record.accepted and record.param["interceptType"] == "RETURN_SEND_ADDR"
    assert "recManInfo" not in record.param
    assert [trace.code for trace in waybill.plan[3:]] == ["6", "4"]


def test_a_return_to_sender_after_signing_is_refused(client, emulator):
    waybill = emulator.add_waybill("yuantong", NUMBER)
    waybill.revealed = len(waybill.plan)
    with pytest.raises(CarrierRejected):
        client.request_return_to_sender("yuantong", NUMBER, callback_url="http://x")
    assert not emulator.intercepts[-1].accepted
