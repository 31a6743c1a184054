"""Waybill requests and answers, pure: documented examples in, our dataclasses out."""

from __future__ import annotations

import json

import httpx
import pytest

from backend.logistics.carriers.base import CarrierRejected, CarrierUnavailable, MalformedPayload
from backend.logistics.carriers.kuaidi100 import build_label_form
from backend.logistics.carriers.sf import compute_msg_digest
from backend.logistics.waybills import kuaidi100, sf
from backend.logistics.waybills.base import Party, WaybillItem, WaybillRef, WaybillRequest
from backend.logistics.waybills.registry import (
    Kuaidi100WaybillConfig,
    SfWaybillConfig,
    WaybillConfig,
    WaybillNotConfigured,
    booker_for,
    parse_accounts,
    parse_routes,
)
from tests.backend.logistics.live_servers import payload

SENDER = Party("李四", "13900000000", "广东省", "深圳市", "南山区", "科技南十二路2号")
RECIPIENT = Party("张三", "13800000000", "浙江省", "杭州市", "西湖区", "文三路1号")


def make_request(**changes) -> WaybillRequest:
    values: dict = {
        "order_key": "P20261201001-1",
        "carrier_code": "zhongtong",
        "sender": SENDER,
        "recipient": RECIPIENT,
        "items": (WaybillItem("T恤", 1),),
        "weight_grams": 500,
    }
    values.update(changes)
    return WaybillRequest(**values)


def test_the_label_sign_reproduces_the_documented_example():
    form = build_label_form(
        "order", "TESTKEY", "TESTSECRET", payload("kuaidi100_order_param.json"), 1714550400000
    )
    assert form["sign"] == "4A28D2519AF7962031B846296CCC4433"
    assert form["method"] == "order" and form["t"] == "1714550400000"


def test_an_order_request_carries_the_idempotency_key_and_the_account_fields():
    account = {"partnerId": "TESTPARTNER", "tempId": "T1", "expType": "标准快递"}
    form = kuaidi100.build_order_request(
        "TESTKEY", "TESTSECRET", make_request(), timestamp_ms=1, account=account
    )
    param = json.loads(form["param"])
    assert param["orderId"] == "P20261201001-1" and param["reorder"] is False
    assert param["partnerId"] == "TESTPARTNER" and param["tempId"] == "T1"
    assert param["recMan"]["printAddr"] == "浙江省杭州市西湖区文三路1号"
    assert param["recMan"]["mobile"] == "13800000000"
    assert param["weight"] == 0.5 and param["count"] == 1 and param["cargo"] == "T恤"
    assert (
        form["sign"] == build_label_form("order", "TESTKEY", "TESTSECRET", form["param"], 1)["sign"]
    )


def test_a_landline_goes_in_tel_and_cloud_printing_sends_the_printer():
    sender = Party("仓库", "0571-88886666", "浙江省", "杭州市", "余杭区", "仓前街道1号")
    param = kuaidi100.build_order_param(
        make_request(sender=sender), account={}, print_type="CLOUD", printer_siid="KX100L"
    )
    assert param["sendMan"]["tel"] == "0571-88886666" and "mobile" not in param["sendMan"]
    assert param["siid"] == "KX100L"


def test_an_unknown_print_type_is_refused_before_any_call():
    with pytest.raises(ValueError):
        kuaidi100.build_order_param(make_request(), account={}, print_type="FAX")


def test_a_booked_answer_gives_the_number_the_label_link_and_the_carrier_order_number():
    body = json.loads(payload("kuaidi100_order_success.json"))
    booked = kuaidi100.parse_order_response(body, make_request())
    assert booked.tracking_no == "78000000000001"
    assert booked.provider_order_id == "ZTO-ORD-998877"
    assert booked.label.url == "http://api.kuaidi100.com/label/A1B2C3"
    assert booked.label.print_task_id == "A1B2C3D4E5" and booked.printed is False


@pytest.mark.parametrize(
    ("name", "error", "code"),
    [
        ("kuaidi100_order_no_balance.json", CarrierRejected, "30004"),
        ("kuaidi100_order_server_error.json", CarrierUnavailable, None),
    ],
)
def test_order_refusals_are_classified(name, error, code):
    with pytest.raises(error) as raised:
        kuaidi100.parse_order_response(json.loads(payload(name)), make_request())
    if code:
        assert raised.value.code == code and "单量不足" in raised.value.message


def test_an_answer_without_a_number_is_malformed():
    with pytest.raises(MalformedPayload):
        kuaidi100.parse_order_response({"success": True, "code": 200, "data": {}}, make_request())


def test_a_cancel_sends_the_carrier_order_number_and_the_account_fields():
    ref = WaybillRef("zhongtong", "78000000000001", "P20261201001-1", "ZTO-ORD-998877")
    account = {"partnerId": "TESTPARTNER", "tempId": "T1"}
    form = kuaidi100.build_cancel_request(
        "TESTKEY", "TESTSECRET", ref, account=account, reason="客户取消", timestamp_ms=1
    )
    assert json.loads(form["param"]) == {
        "kuaidicom": "zhongtong",
        "kuaidinum": "78000000000001",
        "partnerId": "TESTPARTNER",
        "orderId": "ZTO-ORD-998877",
        "reason": "客户取消",
    }
    assert form["method"] == "cancel"


def test_cancel_answers_success_already_cancelled_and_refusal():
    kuaidi100.parse_cancel_response(json.loads(payload("kuaidi100_cancel_success.json")))
    kuaidi100.parse_cancel_response({"success": False, "code": 201, "message": "该面单已取消"})
    with pytest.raises(CarrierRejected) as raised:
        kuaidi100.parse_cancel_response({"success": False, "code": 30009, "message": "查无此单"})
    assert raised.value.code == "30009"


def test_a_reprint_names_the_task_and_the_answer_is_a_print_task():
    form = kuaidi100.build_reprint_request("K", "S", "A1B2C3D4E5", timestamp_ms=1)
    assert form["method"] == "printOld" and json.loads(form["param"]) == {"taskId": "A1B2C3D4E5"}
    label = kuaidi100.parse_reprint_response(
        json.loads(payload("kuaidi100_reprint_success.json")), "A1B2C3D4E5"
    )
    assert label.printed and label.print_task_id == "A1B2C3D4E5"


@pytest.mark.parametrize(
    ("status", "content", "error"),
    [
        (404, b"", CarrierUnavailable),
        (200, b"<html>", CarrierUnavailable),
        (403, b"", CarrierRejected),
    ],
)
def test_a_label_link_that_is_not_a_file_yet_is_retryable(status, content, error):
    with pytest.raises(error):
        kuaidi100.parse_label_download(httpx.Response(status, content=content))
    assert kuaidi100.parse_label_download(httpx.Response(200, content=b"%PDF-1.4")) == b"%PDF-1.4"


def test_an_sf_create_order_is_signed_like_every_gateway_call():
    form = sf.build_create_order_request(
        "TESTCUST",
        "CHECKWORD",
        make_request(carrier_code="shunfeng"),
        timestamp_ms=1714550400000,
        request_id="r1",
        monthly_card="7551234567",
    )
    msg = json.loads(form["msgData"])
    assert form["serviceCode"] == "EXP_RECE_CREATE_ORDER"
    assert form["msgDigest"] == compute_msg_digest(form["msgData"], form["timestamp"], "CHECKWORD")
    assert msg["orderId"] == "P20261201001-1" and msg["monthlyCard"] == "7551234567"
    assert msg["isReturnRoutelabel"] == 1 and msg["totalWeight"] == 0.5
    sender, recipient = msg["contactInfoList"]
    assert (sender["contactType"], recipient["contactType"]) == (1, 2)
    assert recipient["county"] == "西湖区" and recipient["address"] == "文三路1号"


def test_the_route_label_flag_spelling_is_a_setting():
    msg = sf.build_create_order_msg(
        make_request(), monthly_card="", route_label_field="isReturnRouteLabel"
    )
    assert msg["isReturnRouteLabel"] == 1 and "isReturnRoutelabel" not in msg
    assert "monthlyCard" not in msg


def test_an_sf_create_answer_gives_the_master_waybill_number():
    booked = sf.parse_create_order_response(
        json.loads(payload("sf_create_order_success.json")), make_request(carrier_code="shunfeng")
    )
    assert booked.tracking_no == "SF1234567890123" and booked.carrier_code == "shunfeng"


def test_an_sf_order_it_cannot_serve_is_refused():
    with pytest.raises(CarrierRejected) as raised:
        sf.parse_create_order_response(
            json.loads(payload("sf_create_order_not_serviceable.json")), make_request()
        )
    assert raised.value.code == "filterResult=3"


def test_an_sf_cancel_is_update_order_deal_type_two():
    ref = WaybillRef("shunfeng", "SF1234567890123", "P20261201001-1")
    form = sf.build_cancel_request("TESTCUST", "CW", ref, timestamp_ms=1, request_id="r")
    assert form["serviceCode"] == "EXP_RECE_UPDATE_ORDER"
    assert json.loads(form["msgData"]) == {
        "orderId": "P20261201001-1",
        "dealType": 2,
        "waybillNoInfoList": [{"waybillType": 1, "waybillNo": "SF1234567890123"}],
    }
    sf.parse_cancel_response(json.loads(payload("sf_update_order_cancelled.json")))
    with pytest.raises(CarrierRejected):
        sf.parse_cancel_response(json.loads(payload("sf_update_order_mismatch.json")))


def test_an_sf_cloud_print_answer_lists_files_with_tokens():
    form = sf.build_cloud_print_request(
        "TESTCUST",
        "CW",
        ["SF1234567890123"],
        template_code=sf.DEFAULT_TEMPLATE,
        timestamp_ms=1,
        request_id="r",
    )
    msg = json.loads(form["msgData"])
    assert msg["templateCode"] == "fm_150_standard_TESTCUST" and msg["version"] == "2.0"
    assert msg["documents"] == [{"masterWaybillNo": "SF1234567890123"}]
    (file,) = sf.parse_cloud_print_response(json.loads(payload("sf_cloud_print_success.json")))
    assert file.waybill_no == "SF1234567890123" and file.token == "AUTH_tkv12_abc"
    assert file.url.endswith(".pdf")


def test_more_than_twenty_waybills_per_print_call_are_refused():
    with pytest.raises(ValueError):
        sf.build_cloud_print_request(
            "P",
            "C",
            [f"SF{n:013d}" for n in range(21)],
            template_code="t",
            timestamp_ms=1,
            request_id="r",
        )


def test_a_request_without_items_or_key_is_refused():
    with pytest.raises(ValueError):
        make_request(items=())
    with pytest.raises(ValueError):
        make_request(order_key=" ")


def test_the_registry_picks_the_provider_per_carrier():
    config = WaybillConfig(
        routes=parse_routes("shunfeng=sf, zhongtong=kuaidi100, yunda=kuaidi100"),
        kuaidi100=Kuaidi100WaybillConfig(key="K", secret="S", api_url="http://127.0.0.1:9"),
        sf=None,
    )
    with httpx.Client() as http:
        assert booker_for("zhongtong", config, http).provider == "kuaidi100"
        with pytest.raises(WaybillNotConfigured):
            booker_for("shunfeng", config, http)  # routed to SF, which has no credentials
        with pytest.raises(WaybillNotConfigured):
            booker_for("ems", config, http)
        with_sf = WaybillConfig(
            routes=config.routes, sf=SfWaybillConfig("P", "C", "http://127.0.0.1:9", "7551234567")
        )
        assert booker_for("shunfeng", with_sf, http).provider == "sf"


@pytest.mark.parametrize("text", ["shunfeng", "shunfeng=dhl", "=sf"])
def test_a_bad_route_setting_is_refused(text):
    with pytest.raises(ValueError):
        parse_routes(text)


def test_the_accounts_setting_is_a_json_object_per_carrier():
    assert parse_accounts('{"zhongtong": {"partnerId": "P"}}') == {"zhongtong": {"partnerId": "P"}}
    assert parse_accounts("") == {}
    with pytest.raises(ValueError):
        parse_accounts('{"zhongtong": "P"}')
