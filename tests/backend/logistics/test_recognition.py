"""Carrier number recognition: the local shapes (pure) and Kuaidi100 autonumber (emulated)."""

from __future__ import annotations

import json

import httpx
import pytest

from backend.logistics.carriers.autonumber import (
    AutonumberClient,
    build_autonumber_request,
    codes_of,
    parse_autonumber_response,
)
from backend.logistics.carriers.base import CarrierRejected, CarrierUnavailable, MalformedPayload
from backend.logistics.carriers.recognition import guess_carriers, valid_for
from emulators.kuaidi100 import Kuaidi100Emulator
from emulators.kuaidi100_waybills import NUMBER_SHAPES
from tests.backend.logistics.live_servers import payload, serve


@pytest.mark.parametrize(
    ("carrier", "number"),
    [
        ("shunfeng", "SF1234567890123"),
        ("shunfeng", "sf 1234 5678 90123"),
        ("yuantong", "YT7000000000001"),
        ("jtexpress", "JT5012345678901"),
        ("zhongtong", "78000000000001"),
        ("zhongtong", "731234567890"),
        ("yunda", "4312345678901"),
        ("yunda", "431234567890123"),
        ("shentong", "773012345678901"),
        ("shentong", "268123456789"),
        ("jd", "JDVA12345678901"),
        ("ems", "1012345678901"),
        ("ems", "EA123456789CN"),
        ("youzhengguonei", "9812345678901"),
        ("debangkuaidi", "DPK123456789012"),
    ],
)
def test_a_number_of_the_carriers_shape_is_valid_for_it(carrier, number):
    assert valid_for(carrier, number)
    assert carrier in guess_carriers(number)


@pytest.mark.parametrize(
    ("carrier", "number"),
    [
        ("shunfeng", "SF12345678901"),  # too short
        ("shunfeng", "YT1234567890123"),
        ("zhongtong", "SF1234567890123"),
        ("yuantong", "781234567890123"),
        ("jtexpress", "JT12345"),
        ("yunda", "5312345678901"),
    ],
)
def test_a_number_of_another_shape_is_not(carrier, number):
    assert not valid_for(carrier, number)


def test_a_carrier_without_a_shape_takes_any_plausible_number_but_not_junk():
    assert valid_for("zhaijisong", "ZJS0001234")
    assert not valid_for("zhaijisong", "abc")
    assert not valid_for("shunfeng", "SF1234567890123<script>")


def test_prefixed_numbers_have_one_guess_and_digits_may_have_several():
    assert guess_carriers("SF1234567890123") == ["shunfeng"]
    assert guess_carriers("hello") == []
    assert guess_carriers("4312345678901") == ["yunda"]
    # 12 digits starting with 7 are ZTO's older shape and never STO's 268/368... ones.
    assert guess_carriers("731234567890") == ["zhongtong"]
    assert guess_carriers("1012345678901") == ["ems"]


def test_every_number_the_emulator_hands_out_has_the_carriers_shape():
    for carrier, (prefix, digits) in NUMBER_SHAPES.items():
        number = f"{prefix}{7:0{digits}d}"
        assert carrier in guess_carriers(number), (carrier, number)


def test_autonumber_asks_with_the_key_only():
    assert build_autonumber_request("K", " YT7000000000001 ") == {
        "key": "K",
        "num": "YT7000000000001",
    }


def test_the_documented_autonumber_answer_is_read_most_likely_first():
    guesses = parse_autonumber_response(json.loads(payload("kuaidi100_autonumber_success.json")))
    assert codes_of(guesses) == ["yuantong", "zhongtong"] and guesses[0].name == "圆通速递"


def test_autonumber_errors_are_refusals_and_not_a_number_is_no_guess():
    with pytest.raises(CarrierRejected) as raised:
        parse_autonumber_response(json.loads(payload("kuaidi100_autonumber_missing_key.json")))
    assert raised.value.code == "701"
    assert parse_autonumber_response({"returnCode": "201", "result": False}) == []
    with pytest.raises(MalformedPayload):
        parse_autonumber_response([{"name": "no code"}])


@pytest.fixture
def served():
    emulator = Kuaidi100Emulator()
    with serve(emulator.app) as url, httpx.Client() as http:
        yield emulator, url, http


def test_the_emulator_recognises_numbers_it_booked_and_by_shape(served):
    emulator, url, http = served
    client = AutonumberClient(http, key=emulator.key, url=f"{url}/autonumber/auto")
    assert codes_of(client.guess("SF1400000000001")) == ["shunfeng"]
    assert client.guess("###") == []
    with pytest.raises(CarrierRejected):
        AutonumberClient(http, key="WRONG", url=f"{url}/autonumber/auto").guess("SF1400000000001")
    emulator.outage = True
    with pytest.raises(CarrierUnavailable):
        client.guess("SF1400000000001")
