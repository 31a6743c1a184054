"""Waybill bookers against the loopback Kuaidi100 and SF emulators, over real HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from backend.logistics.carriers.base import CarrierRejected, CarrierUnavailable
from backend.logistics.carriers.kuaidi100 import Kuaidi100Client
from backend.logistics.carriers.recognition import valid_for
from backend.logistics.carriers.sf import SfClient
from backend.logistics.waybills.base import WaybillRef
from backend.logistics.waybills.kuaidi100 import Kuaidi100WaybillClient
from backend.logistics.waybills.sf import SfWaybillClient
from emulators.kuaidi100 import Kuaidi100Emulator
from emulators.sf import SfGatewayEmulator
from tests.backend.logistics.live_servers import Kuaidi100Inbox, serve
from tests.backend.logistics.test_waybill_payloads import make_request

START = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
SALT = "0123456789abcdef0123456789abcdef"
ACCOUNTS = {"zhongtong": {"partnerId": "TESTPARTNER", "tempId": "T-ZTO"}}


def pdf_text(text: str) -> bytes:
    """How the label writes text: UTF-16 hex strings."""
    return text.encode("utf-16-be").hex().upper().encode()


def assert_is_a_pdf(content: bytes) -> None:
    """%PDF header, %%EOF trailer, and every xref offset lands on its object."""
    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    xref_at = int(content.rsplit(b"startxref", 1)[1].split()[0])
    table = content[xref_at:].split(b"trailer")[0].split(b"\n")[2:]
    offsets = [int(line.split()[0]) for line in table if line.endswith(b"n ")]
    assert offsets
    for number, offset in enumerate(offsets, start=1):
        assert content[offset:].startswith(b"%d 0 obj" % number)


@pytest.fixture
def http():
    with httpx.Client() as client:
        yield client


@pytest.fixture
def k100(http):
    emulator = Kuaidi100Emulator(start=START, http=http)
    with serve(emulator.app) as url:
        emulator.url = url
        yield emulator


def k100_booker(http, k100, **options) -> Kuaidi100WaybillClient:
    values: dict = {"key": "TESTKEY", "secret": "TESTSECRET", "accounts": ACCOUNTS}
    values.update(options)
    return Kuaidi100WaybillClient(http, api_base_url=k100.url, **values)


def k100_tracker(http, k100) -> Kuaidi100Client:
    return Kuaidi100Client(
        http, customer="TESTCUSTOMER", key="TESTKEY", salt=SALT, poll_base_url=k100.url
    )


def test_kuaidi100_books_a_zto_number_with_a_pdf_label(http, k100):
    booker = k100_booker(http, k100)
    booked = booker.book(make_request())
    assert valid_for("zhongtong", booked.tracking_no)
    assert booked.provider_order_id and booked.label.url and booked.label.print_task_id
    pdf = booker.reprint(booked).pdf or b""
    assert_is_a_pdf(pdf)
    assert pdf_text(booked.tracking_no) in pdf and pdf_text("张*") in pdf
    assert pdf_text("张三") not in pdf and pdf_text("13800000000") not in pdf
    (record,) = k100.bookings
    assert record.accepted and record.param["orderId"] == "P20261201001-1"
    assert record.param["recMan"]["name"] == "张三"


def test_kuaidi100_gives_the_same_waybill_for_the_same_order_key(http, k100):
    booker = k100_booker(http, k100)
    first = booker.book(make_request())
    again = booker.book(make_request())
    other = booker.book(make_request(order_key="P20261201001-2"))
    assert again.tracking_no == first.tracking_no
    assert other.tracking_no != first.tracking_no
    assert sorted(k100.desk.by_number) == sorted({first.tracking_no, other.tracking_no})


def test_a_booked_kuaidi100_number_is_tracked_and_pushed(http, k100):
    inbox = Kuaidi100Inbox(SALT)
    with serve(inbox.app) as hooks:
        booker = k100_booker(http, k100, poll_callback_url=f"{hooks}/hooks/kuaidi100", salt=SALT)
        booked = booker.book(make_request())
        tracker = k100_tracker(http, k100)
        assert tracker.query("zhongtong", booked.tracking_no).events == []  # not collected yet
        k100.advance(booked.tracking_no)
        assert [p.tracking_no for p in inbox.received] == [booked.tracking_no]
    update = tracker.query("zhongtong", booked.tracking_no)
    assert update.tracking_no == booked.tracking_no and len(update.events) == 1


def test_kuaidi100_cancels_before_pickup_and_a_second_cancel_is_fine(http, k100):
    booker = k100_booker(http, k100)
    booked = booker.book(make_request())
    booker.cancel(booked, "客户取消")
    booker.cancel(booked.ref, "客户取消")
    assert [c.accepted for c in k100.cancels] == [True, False]  # refused as already cancelled
    assert k100.cancels[0].param["orderId"] == booked.provider_order_id
    assert booked.tracking_no not in k100.waybills


def test_kuaidi100_refuses_to_cancel_an_unknown_or_collected_waybill(http, k100):
    booker = k100_booker(http, k100)
    with pytest.raises(CarrierRejected) as unknown:
        booker.cancel(WaybillRef("zhongtong", "78000000009999", "P1-1", "X"), "")
    assert unknown.value.code == "30009"
    booked = booker.book(make_request())
    k100.advance(booked.tracking_no)
    with pytest.raises(CarrierRejected) as collected:
        booker.cancel(booked, "")
    assert "揽收" in collected.value.message
    assert booked.tracking_no in k100.waybills


@pytest.mark.parametrize(
    ("options", "code"),
    [({"secret": "WRONG"}, "30002"), ({"key": "NOKEY"}, "30003"), ({"accounts": {}}, "30001")],
)
def test_kuaidi100_refusals_issue_no_number(http, k100, options, code):
    with pytest.raises(CarrierRejected) as raised:
        k100_booker(http, k100, **options).book(make_request())
    assert raised.value.code == code
    assert k100.desk.by_number == {} and not k100.bookings[-1].accepted


def test_kuaidi100_without_waybill_balance_is_a_refusal(http, k100):
    k100.desk.balance = 0
    with pytest.raises(CarrierRejected) as raised:
        k100_booker(http, k100).book(make_request())
    assert raised.value.code == "30004" and k100.desk.by_number == {}


def test_a_kuaidi100_outage_is_retryable(http, k100):
    k100.outage = True
    with pytest.raises(CarrierUnavailable):
        k100_booker(http, k100).book(make_request())


def test_a_cloud_printed_waybill_is_reprinted_with_print_old(http, k100):
    account = {"zhongtong": {**ACCOUNTS["zhongtong"]}}
    booker = k100_booker(http, k100, accounts=account, print_type="CLOUD", printer_siid="KX1")
    booked = booker.book(make_request())
    assert booked.printed and booked.label.url is None
    label = booker.reprint(booked)
    assert label.printed and label.print_task_id == booked.label.print_task_id
    assert [r.accepted for r in k100.desk.reprints] == [True]


@pytest.fixture
def gateway():
    emulator = SfGatewayEmulator(partner_id="TESTCUST", check_word="CHECKWORD")
    with serve(emulator.app) as url:
        emulator.url = url
        yield emulator


def sf_booker(http, gateway, **options) -> SfWaybillClient:
    values: dict = {"partner_id": "TESTCUST", "check_word": "CHECKWORD"}
    values.update(options)
    return SfWaybillClient(
        http, base_url=f"{gateway.url}/std/service", monthly_card="7551234567", **values
    )


def test_sf_books_a_waybill_with_its_pdf(http, gateway):
    booked = sf_booker(http, gateway).book(make_request(carrier_code="shunfeng"))
    assert re.fullmatch(r"SF\d{13}", booked.tracking_no) and valid_for(
        "shunfeng", booked.tracking_no
    )
    assert_is_a_pdf(booked.label.pdf or b"")
    (record,) = gateway.bookings
    assert record.accepted and record.msg["monthlyCard"] == "7551234567"


def test_sf_gives_the_same_waybill_for_the_same_order_key(http, gateway):
    booker = sf_booker(http, gateway)
    first = booker.book(make_request(carrier_code="shunfeng"))
    again = booker.book(make_request(carrier_code="shunfeng"))
    assert again.tracking_no == first.tracking_no
    assert [(b.accepted, b.error_code) for b in gateway.bookings] == [
        (True, "S0000"),
        (False, "8016"),
    ]
    assert len(gateway.desk.orders) == 1


def test_a_booked_sf_waybill_answers_route_queries(http, gateway):
    booked = sf_booker(http, gateway).book(make_request(carrier_code="shunfeng"))
    tracker = SfClient(
        http, partner_id="TESTCUST", check_word="CHECKWORD", base_url=f"{gateway.url}/std/service"
    )
    assert tracker.query("shunfeng", booked.tracking_no).events == []
    gateway.advance(booked.tracking_no, 2)
    update = tracker.query("shunfeng", booked.tracking_no)
    assert [event.raw_code for event in update.events] == ["50", "30"]


def test_sf_cancels_before_pickup_and_refuses_unknown_and_collected(http, gateway):
    booker = sf_booker(http, gateway)
    booked = booker.book(make_request(carrier_code="shunfeng"))
    booker.cancel(booked, "客户取消")
    booker.cancel(booked.ref, "客户取消")
    assert [c.accepted for c in gateway.cancels] == [True, True]
    assert booked.tracking_no not in gateway.waybills
    with pytest.raises(CarrierRejected) as unknown:
        booker.cancel(WaybillRef("shunfeng", "SF1000000009999", "P-unknown-1"), "")
    assert unknown.value.code == "8018"
    collected = booker.book(make_request(carrier_code="shunfeng", order_key="P2-1"))
    gateway.advance(collected.tracking_no)
    with pytest.raises(CarrierRejected):
        booker.cancel(collected, "")


def test_sf_refuses_a_bad_check_word_and_an_outage_is_retryable(http, gateway):
    with pytest.raises(CarrierRejected) as raised:
        sf_booker(http, gateway, check_word="WRONG").book(make_request(carrier_code="shunfeng"))
    assert raised.value.code == "A1006" and gateway.desk.orders == {}
    gateway.outage = True
    with pytest.raises(CarrierUnavailable):
        sf_booker(http, gateway).book(make_request(carrier_code="shunfeng"))


def test_a_label_file_needs_its_token(http, gateway):
    booked = sf_booker(http, gateway).book(make_request(carrier_code="shunfeng"))
    assert booked.label.url
    assert http.get(booked.label.url).status_code == 401
